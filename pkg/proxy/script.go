package proxy

import (
	"bytes"
	"context"
	"fmt"
	"strings"

	"sigs.k8s.io/knftables"
)

// scriptRunner is a knftables.Interface that can also run nft text written
// here (nftns's). A full sync uses it to put each set's elements in a few
// commands: at 10,000 Services x 10 endpoints knftables' one command per
// element (220,000 of them) is most of nft's parsing time, and the kernel
// gets one message per element too.
type scriptRunner interface {
	RunScript(ctx context.Context, script []byte) error
	Table() (knftables.Family, string)
}

// elementsPerCommand keeps lines of a few hundred kilobytes.
const elementsPerCommand = 5000

// script renders ops as nft text: knftables writes everything but
// elements, which are grouped by set and verb in the order they come.
func (a *Applier) script(ops []op, family knftables.Family, table string) []byte {
	var buf bytes.Buffer
	for i := 0; i < len(ops); {
		if _, ok := ops[i].obj.(*knftables.Element); !ok {
			tx := a.nft.NewTransaction()
			for ; i < len(ops); i++ {
				if _, ok := ops[i].obj.(*knftables.Element); ok {
					break
				}
				(&opList{ops: ops[i : i+1]}).replay(tx)
			}
			buf.WriteString(tx.String())
			continue
		}
		first := ops[i].obj.(*knftables.Element)
		name, verb := first.Set+first.Map, ops[i].verb
		fmt.Fprintf(&buf, "%s element %s %s %s { ", verbWord(verb), family, table, name)
		n := 0
		for ; i < len(ops); i++ {
			e, ok := ops[i].obj.(*knftables.Element)
			if !ok || ops[i].verb != verb || e.Set+e.Map != name || n == elementsPerCommand {
				break
			}
			if n > 0 {
				buf.WriteString(", ")
			}
			buf.WriteString(strings.Join(e.Key, " . "))
			if verb == opAdd && len(e.Value) > 0 {
				buf.WriteString(" : ")
				buf.WriteString(strings.Join(e.Value, " . "))
			}
			n++
		}
		buf.WriteString(" }\n")
	}
	return buf.Bytes()
}

func verbWord(v verb) string {
	switch v {
	case opFlush:
		return "flush"
	case opDelete:
		return "delete"
	}
	return "add"
}
