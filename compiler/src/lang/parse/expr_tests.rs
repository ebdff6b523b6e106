//! Tests of expression parsing: precedence and associativity, operators,
//! casts, member access, tuples, primaries, and the message and place of
//! each expression error.

use super::tests::{ex, expr_errs};

#[test]
fn precedence_follows_c() {
    assert_eq!(ex("1 + 2 * 3"), "(+ 1 (* 2 3))");
    assert_eq!(ex("1 * 2 + 3"), "(+ (* 1 2) 3)");
    assert_eq!(ex("1 - 2 - 3"), "(- (- 1 2) 3)");
    assert_eq!(ex("8 / 4 / 2 % 3"), "(% (/ (/ 8 4) 2) 3)");
    assert_eq!(ex("pid || tid && uid"), "(|| pid (&& tid uid))");
    assert_eq!(ex("pid | tid ^ uid & gid"), "(| pid (^ tid (& uid gid)))");
    assert_eq!(ex("pid & tid == 1"), "(& pid (== tid 1))");
    assert_eq!(ex("pid == tid < 1"), "(== pid (< tid 1))");
    assert_eq!(ex("pid < 1 << 2"), "(< pid (<< 1 2))");
    assert_eq!(ex("1 << 2 + 3"), "(<< 1 (+ 2 3))");
    assert_eq!(
        ex("pid != 1 && pid >= 2 || pid <= 3 && pid > 4"),
        "(|| (&& (!= pid 1) (>= pid 2)) (&& (<= pid 3) (> pid 4)))"
    );
}

#[test]
fn ternary_is_right_associative_and_lowest() {
    assert_eq!(ex("pid ? 1 : tid ? 2 : 3"), "(? pid 1 (? tid 2 3))");
    assert_eq!(ex("pid || tid ? 1 + 2 : 3"), "(? (|| pid tid) (+ 1 2) 3)");
    assert_eq!(ex("pid ? tid ? 1 : 2 : 3"), "(? pid (? tid 1 2) 3)");
}

#[test]
fn unary_operators_and_casts() {
    assert_eq!(ex("-pid * 2"), "(* (Neg pid) 2)");
    assert_eq!(ex("!pid && ~tid"), "(&& (Not pid) (BitNot tid))");
    assert_eq!(ex("- -1"), "(Neg (Neg 1))");
    assert_eq!(
        ex("*(uint64 *)(arg0 + 8)"),
        "(Deref (cast uint64* (+ arg0 8)))"
    );
    assert_eq!(ex("(u8)arg0 + 1"), "(+ (cast uint8 arg0) 1)");
    assert_eq!(ex("(int64)-1"), "(cast int64 (Neg 1))");
    assert_eq!(ex("(s32)(u16)arg0"), "(cast int32 (cast uint16 arg0))");
    assert_eq!(ex("(uint8*)arg0"), "(cast uint8* arg0)");
    assert_eq!(ex("**(u64 *)arg0"), "(Deref (Deref (cast uint64* arg0)))");
    // Not a type word: a parenthesised expression.
    assert_eq!(ex("(pid)"), "pid");
    assert_eq!(ex("(pid) + 1"), "(+ pid 1)");
    assert_eq!(ex("(arg0 + 1) * 2"), "(* (+ arg0 1) 2)");
}

#[test]
fn struct_casts_and_member_access() {
    assert_eq!(
        ex("((struct file *)arg0)->f_pos"),
        "(-> (cast structfile* arg0) f_pos)"
    );
    // As in C, a cast applies to the whole postfix expression.
    assert_eq!(
        ex("(struct sock *)arg0->x"),
        "(cast structsock* (-> arg0 x))"
    );
    assert_eq!(
        ex("((struct sock *)arg0)->__sk_common.skc_dport"),
        "(. (-> (cast structsock* arg0) __sk_common) skc_dport)"
    );
    assert_eq!(
        ex("curtask->real_parent->comm[0] + 1"),
        "(+ ([] (-> (-> curtask real_parent) comm) 0) 1)"
    );
    assert_eq!(ex("(union u *)$p"), "(cast unionu* $p)");
    assert_eq!(ex("-$t->pid"), "(Neg (-> $t pid))");
    assert_eq!(ex("*$t->ptr"), "(Deref (-> $t ptr))");
}

#[test]
fn struct_cast_errors() {
    let d = expr_errs("(struct file)arg0");
    assert_eq!(d, vec!["cannot cast to the struct value `struct file`"]);
    assert_eq!(
        expr_errs("(struct *)arg0"),
        vec!["expected a struct or union name, found `*`"]
    );
    assert_eq!(
        expr_errs("(struct file *arg0"),
        vec!["expected `)` to close the cast to `struct file *` opened at 1:1"]
    );
    assert_eq!(
        expr_errs("(enum e)arg0"),
        vec!["casts to enum types are not supported"]
    );
    assert_eq!(
        expr_errs("curtask->"),
        vec!["expected a member name after `->`, found end of file"]
    );
    assert_eq!(
        expr_errs("curtask->comm[1"),
        vec!["expected `]` to close the index opened at 1:14"]
    );
}

#[test]
fn primaries() {
    assert_eq!(ex("1_000 + 0xff + 0"), "(+ (+ 1000 255) 0)");
    assert_eq!(ex(r#""a\tb\"\\\x41\0""#), r#""a\tb\"\\A\0""#);
    assert_eq!(
        ex("$x + @ + @m + @[1] + @m[1, comm]"),
        "(+ (+ (+ (+ $x @) @m) @[1]) @m[1 comm])"
    );
    assert_eq!(
        ex("pid + tid + uid + gid + comm + nsecs + cpu + rand + func + probe + arg0 + arg12 + retval + kstack"),
        "(+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ (+ pid tid) uid) gid) comm) nsecs) cpu) rand) func) probe) arg0) arg12) retval) kstack)"
    );
    assert_eq!(ex("count()"), "(count )");
    assert_eq!(ex("lhist(arg2, 0, 1000, 100)"), "(lhist arg2 0 1000 100)");
    assert_eq!(ex("kstack(5)"), "(kstack 5)");
}

#[test]
fn expression_errors() {
    assert_eq!(expr_errs("1 +"), vec!["expected an expression after `+`"]);
    assert_eq!(
        expr_errs("(1 + 2"),
        vec!["expected `)` to close the parenthesis opened at 1:1"]
    );
    assert_eq!(
        expr_errs("(uint64 *"),
        vec!["expected `)` to close the cast to `uint64 *` opened at 1:1"]
    );
    assert_eq!(
        expr_errs("pid ? 1"),
        vec!["expected `:` of the conditional expression `?` at 1:5"]
    );
    assert_eq!(
        expr_errs("printf(\"x\" pid)"),
        vec!["expected `)` to close the arguments of `printf` opened at 1:7"]
    );
    assert_eq!(
        expr_errs("99999999999999999999"),
        vec!["integer literal `99999999999999999999` is too large"]
    );
    // Other identifiers are the checker's to resolve (macro parameters,
    // macros); keywords start no expression.
    assert_eq!(ex("pdi + 1"), "(+ 'pdi 1)");
    assert_eq!(ex("arg256"), "'arg256");
    assert_eq!(
        expr_errs("1 + else"),
        vec!["expected an expression, found the keyword `else`"]
    );
    assert_eq!(ex("pdi + AF_INET"), "(+ 'pdi 'AF_INET)");
    assert_eq!(ex("X->y"), "(-> 'X y)");
    assert_eq!(expr_errs("@m[]"), vec!["empty key `[]` on `@m`"]);
}

// ---- statements ----

#[test]
fn tuples_and_their_elements() {
    assert_eq!(ex("(1, pid, \"c\")"), "(tuple 1 pid \"c\")");
    assert_eq!(ex("(1)"), "1");
    assert_eq!(ex("$t.0 + $t.1"), "(+ (.0 $t) (.1 $t))");
    assert_eq!(ex("$kv.0.1"), "(.1 (.0 $kv))");
    assert_eq!(ex("@m[(1, 2)]"), "@m[(tuple 1 2)]");
    assert_eq!(
        expr_errs("(1, 2"),
        vec!["expected `)` to close the tuple opened at 1:1"]
    );
}

#[test]
fn offsetof_takes_a_type_and_a_member_path() {
    assert_eq!(
        ex("offsetof(struct sock, __sk_common.skc_dport)"),
        "(offsetof sock __sk_common.skc_dport)"
    );
    assert_eq!(
        expr_errs("offsetof(*curtask, comm)"),
        vec!["offsetof() takes a struct or union type first, found `*`"]
    );
}
