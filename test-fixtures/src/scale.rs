//! Specs of any number of attach points, for measuring how compile cost
//! grows with them (`cargo xtask bench`) and for the test that it grows
//! linearly: every attach point gets the same small body (a count by comm
//! and probe, a histogram, an `if`), either as a block of its own or as
//! one of a wildcard's matches; the functions are `fn_00000`, `fn_00001`...
//! of a generated `System.map`.

/// How the attach points are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// One block per attach point: `kprobe:fn_00000 { ... }` ...
    Blocks,
    /// One block whose wildcard matches them all: `kprobe:fn_* { ... }`.
    Wildcard,
}

impl Form {
    pub const ALL: [Form; 2] = [Form::Blocks, Form::Wildcard];

    /// `blocks` or `wildcard`, for file names and reports.
    pub fn name(self) -> &'static str {
        match self {
            Form::Blocks => "blocks",
            Form::Wildcard => "wildcard",
        }
    }
}

const BODY: &str = "{
\t@calls[comm, probe] = count();
\t@sizes = hist(arg2);
\tif (arg2 > 4096) {
\t\t@big[probe] = count();
\t}
}
";

/// The name of function `i`.
fn function(i: usize) -> String {
    format!("fn_{i:05}")
}

/// The block of the body on `attach` (`kprobe:fn_00000`, `kprobe:*`).
pub fn block(attach: &str) -> String {
    format!("{attach}\n{BODY}")
}

/// The spec text of `n` attach points written as `form`.
pub fn spec(n: usize, form: Form) -> String {
    match form {
        Form::Wildcard => block("kprobe:fn_*"),
        Form::Blocks => (0..n)
            .map(|i| block(&format!("kprobe:{}", function(i))))
            .collect(),
    }
}

/// The function names of `n` attach points, as
/// [`CompileOptions::symbols`](probecc::lang::CompileOptions) holds them.
pub fn symbols(n: usize) -> Vec<String> {
    (0..n).map(function).collect()
}

/// A `System.map` of the `n` functions, for `--symbols`.
pub fn system_map(n: usize) -> String {
    (0..n)
        .map(|i| {
            format!(
                "{:016x} T {}\n",
                0xffff_ffff_8100_0000u64 + 64 * i as u64,
                function(i)
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use probecc::arch::Arch;
    use probecc::lang::{self, CompileOptions};

    #[test]
    fn both_forms_make_one_program_per_function_of_the_map() {
        let names = probecc::symbols::parse(&system_map(12)).expect("a System.map");
        assert_eq!(names, symbols(12));
        for form in Form::ALL {
            let opts = CompileOptions {
                symbols: Some(names.clone()),
                ..CompileOptions::default()
            };
            let c = lang::compile(&spec(12, form), Arch::X86_64, &opts)
                .unwrap_or_else(|d| panic!("{}: {d:#?}", form.name()));
            assert_eq!(c.manifest.probes.len(), 12, "{}", form.name());
            assert_eq!(c.manifest.probes[11], "kprobe:fn_00011");
            assert_eq!(c.object.maps.len(), 3, "{}", form.name());
        }
    }
}
