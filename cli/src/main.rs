fn main() { println!("probecc"); }
