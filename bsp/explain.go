package bsp

import (
	"fmt"
	"io"
	"strings"
)

// Explain prints the program's supersteps: each stage's input, fused
// operators, output, task and partition counts and shuffle keys.
func (p *Program) Explain(w io.Writer) error {
	nodes := p.plan.nodes
	var b strings.Builder
	fmt.Fprintf(&b, "job %s: %d supersteps, default partitions %d\n", orAdHoc(p.Spec.Job), len(p.Spec.Stages), p.Spec.Partitions)
	for _, st := range p.Spec.Stages {
		in := nodes[st.Input.Node]
		fmt.Fprintf(&b, "\nsuperstep %d: %d tasks\n", st.ID+1, st.Tasks)
		switch st.Input.Kind {
		case InputSource:
			fmt.Fprintf(&b, "  input   %s(%s) -> %s, %d splits\n", in.op, in.detail, in.typ, len(st.Input.Splits))
		default:
			fmt.Fprintf(&b, "  input   shuffle of %s #%d (%d partitions, %s by %s) -> %s\n", in.op, in.id,
				in.wide.partitions, in.wide.shuffle, orNone(in.wide.key), in.typ)
		}
		if it := st.Iterate; it != nil {
			every := "never"
			if it.CheckpointEvery > 0 {
				every = fmt.Sprintf("every %d supersteps", it.CheckpointEvery)
			}
			fmt.Fprintf(&b, "  iterate up to %d vertex supersteps over resident partitions; messages shuffled by %s; checkpoints %s\n",
				it.MaxSupersteps, orNone(in.wide.key), every)
		}
		for _, id := range st.Chain {
			n := nodes[id]
			fmt.Fprintf(&b, "  fused   %s -> %s\n", n.op, n.typ)
		}
		out := nodes[st.Output.Node]
		switch st.Output.Kind {
		case OutputShuffle:
			comb := ""
			if out.wide.combine {
				comb = ", map-side combine"
			}
			fmt.Fprintf(&b, "  output  shuffle to %s #%d side %d: %d partitions, %s by %s%s\n", out.op, out.id, st.Output.Side,
				st.Output.Partitions, st.Output.Shuffle, orNone(out.wide.key), comb)
		case OutputSample:
			fmt.Fprintf(&b, "  output  key sample for the range partitioner of %s #%d (%d partitions)\n", out.op, out.id, st.Output.Partitions)
		case OutputSink:
			sk := SinkSpec{Ext: out.sink.ext, Name: out.sink.name, Single: out.sink.single}
			name := sk.FileName(0)
			if !sk.Single {
				name = strings.Replace(name, "00000", "NNNNN", 1)
			}
			fmt.Fprintf(&b, "  output  %s %s (%s)\n", out.op, out.sink.dir, name)
		case OutputCollect:
			fmt.Fprintf(&b, "  output  Collect (returned to the submitter)\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func orAdHoc(s string) string {
	if s == "" {
		return "(ad hoc)"
	}
	return s
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
