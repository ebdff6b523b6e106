//! What the host and the guest agent exchange: the plan the host puts in
//! the initramfs (`/probecc/plan.json`) and the result lines the agent
//! prints on the console (`PROBECC <json>`). The agent itself is the
//! binary (`src/main.rs`, feature `agent`); xtask reads these types only.

pub mod protocol;
