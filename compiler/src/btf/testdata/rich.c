typedef unsigned int u32;
typedef unsigned long long u64;
#define SEC(n) __attribute__((section(n), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
struct pt_regs;
enum color { RED = 1, GREEN = -2 };
struct event { u64 ts; u32 pid; char comm[16]; unsigned flag : 3; unsigned rest : 5; union { int a; long b; } u; enum color c; const volatile int *cv; int (*fn)(int, char); };
struct { __uint(type, 1); __uint(max_entries, 1024); __type(key, u32); __type(value, struct event); } counts SEC(".maps");
struct { __uint(type, 27); __uint(max_entries, 4096); } rb SEC(".maps");
const volatile u32 target_pid = 0;
static __attribute__((noinline)) int helper(struct pt_regs *ctx, int x) { return x + (int)target_pid; }
SEC("kprobe/vfs_read") int probe(struct pt_regs *ctx) {
  struct event *e = 0;
  int k = 0;
  e = (void*)(long)helper(ctx, 3);
  return e ? 1 : 0;
}
char LICENSE[] SEC("license") = "GPL";
