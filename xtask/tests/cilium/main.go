// Command cilium-check reads probecc's objects with cilium/ebpf, the Go
// loader, for xtask/tests/cilium.rs.
//
//	cilium-check parse OBJ...       LoadCollectionSpec on each object
//	cilium-check load BTF OBJ...    and NewCollection in the running kernel,
//	                                with the kernel types of BTF
//
// It prints one JSON object per object: its path, its byte order, its
// programs and maps as cilium sees them, whether it loaded, and the errors.
// Loading takes KernelTypes from BTF because cilium 0.9.1 cannot read a
// vmlinux with BTF_KIND_ENUM64 (kernels from 6.0 on) for CO-RE. cilium
// 0.9.1 knows only `raw_tp/NAME` sections, so it leaves the programs of a
// bare `raw_tp` section (BEGIN, END, interval) of unspecified type, which
// NewCollection skips: their type is set here, as a user of the manifest
// does, and every program must then be in the collection.
package main

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/btf"
	"github.com/cilium/ebpf/rlimit"
)

type result struct {
	Path      string   `json:"path"`
	ByteOrder string   `json:"byte_order,omitempty"`
	Programs  []string `json:"programs"`
	Maps      []string `json:"maps"`
	Error     string   `json:"error,omitempty"`
	Loaded    bool     `json:"loaded"`
	LoadError string   `json:"load_error,omitempty"`
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func check(path string, load bool, kernelTypes *btf.Spec) result {
	r := result{Path: path, Programs: []string{}, Maps: []string{}}
	spec, err := ebpf.LoadCollectionSpec(path)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	r.ByteOrder = "little"
	if spec.ByteOrder == binary.BigEndian {
		r.ByteOrder = "big"
	}
	r.Programs = keys(spec.Programs)
	r.Maps = keys(spec.Maps)
	if !load {
		return r
	}
	for _, p := range spec.Programs {
		if p.SectionName == "raw_tp" && p.Type == ebpf.UnspecifiedProgram {
			p.Type = ebpf.RawTracepoint
		}
	}
	opts := ebpf.CollectionOptions{
		Programs: ebpf.ProgramOptions{KernelTypes: kernelTypes, LogSize: 1 << 22},
	}
	coll, err := ebpf.NewCollectionWithOptions(spec, opts)
	if err != nil {
		r.LoadError = err.Error()
		return r
	}
	defer coll.Close()
	if len(coll.Programs) != len(spec.Programs) {
		r.LoadError = fmt.Sprintf("%d of %d programs loaded: %v",
			len(coll.Programs), len(spec.Programs), keys(coll.Programs))
		return r
	}
	r.Loaded = true
	return r
}

func main() {
	if len(os.Args) < 3 || (os.Args[1] == "load" && len(os.Args) < 4) {
		fmt.Fprintln(os.Stderr, "usage: cilium-check parse OBJ... | load BTF OBJ...")
		os.Exit(2)
	}
	load := os.Args[1] == "load"
	objects := os.Args[2:]
	var kernelTypes *btf.Spec
	if load {
		var err error
		if kernelTypes, err = btf.LoadSpec(os.Args[2]); err != nil {
			fmt.Fprintf(os.Stderr, "%s: %v\n", os.Args[2], err)
			os.Exit(2)
		}
		// Kernels before 5.11 charge BPF memory to RLIMIT_MEMLOCK.
		if err := rlimit.RemoveMemlock(); err != nil {
			fmt.Fprintf(os.Stderr, "removing the memlock limit: %v\n", err)
			os.Exit(2)
		}
		objects = os.Args[3:]
	}
	out := json.NewEncoder(os.Stdout)
	for _, path := range objects {
		if err := out.Encode(check(path, load, kernelTypes)); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
}
