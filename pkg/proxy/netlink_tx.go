package proxy

import (
	"fmt"

	"github.com/google/nftables"
	"sigs.k8s.io/knftables"
)

// txWriter is what the diff writers write to: a knftables.Transaction, or an
// opList that may go to the kernel over netlink instead.
type txWriter interface {
	Add(obj knftables.Object)
	Flush(obj knftables.Object)
	Delete(obj knftables.Object)
	NumOperations() int
}

var _ txWriter = (*knftables.Transaction)(nil)

type verb int

const (
	opAdd verb = iota
	opFlush
	opDelete
)

type op struct {
	verb verb
	obj  knftables.Object
}

// opList records a transaction so it can be sent either way.
type opList struct{ ops []op }

func (l *opList) Add(obj knftables.Object)    { l.ops = append(l.ops, op{opAdd, obj}) }
func (l *opList) Flush(obj knftables.Object)  { l.ops = append(l.ops, op{opFlush, obj}) }
func (l *opList) Delete(obj knftables.Object) { l.ops = append(l.ops, op{opDelete, obj}) }
func (l *opList) NumOperations() int          { return len(l.ops) }

func (l *opList) replay(tx *knftables.Transaction) {
	for _, o := range l.ops {
		switch o.verb {
		case opAdd:
			tx.Add(o.obj)
		case opFlush:
			tx.Flush(o.obj)
		case opDelete:
			tx.Delete(o.obj)
		}
	}
}

// Netlink sends partial syncs to the kernel as one nftables netlink batch,
// without the nft binary. At 10,000 Services nft spends 40-90 ms on any
// transaction, however small, fetching the table's chains and sets before
// it starts; a partial sync over netlink costs what it changes. Only the
// operations partial syncs send (chains, the per-Service rule shapes,
// elements of the layout's sets and maps) are encoded here; a transaction
// holding anything else goes to nft whole, so each sync stays one atomic
// transaction either way.
type Netlink struct {
	// Conn returns a connection to the kernel in the right network
	// namespace (nftns.NewNetlink); a fresh one per batch, so a failed
	// batch leaves nothing queued.
	Conn  func() (*nftables.Conn, error)
	Table string
}

// errUnsupported means the batch must go through nft instead.
var errUnsupported = fmt.Errorf("not encodable for netlink")

// run sends ops as one batch; errUnsupported (before anything is sent) if
// some operation is not one it encodes. sets gives element types.
func (n *Netlink) run(ops []op, sets map[string]*Set) error {
	table := &nftables.Table{Name: n.Table, Family: nftables.TableFamilyIPv4}
	var queue []func(*nftables.Conn) error
	for i := 0; i < len(ops); i++ {
		o := ops[i]
		switch obj := o.obj.(type) {
		case *knftables.Chain:
			ch := &nftables.Chain{Name: obj.Name, Table: table}
			switch {
			case obj.Hook != nil || obj.Type != nil:
				return errUnsupported // base chains only change in full syncs
			case o.verb == opAdd:
				queue = append(queue, func(c *nftables.Conn) error { c.AddChain(ch); return nil })
			case o.verb == opFlush:
				queue = append(queue, func(c *nftables.Conn) error { c.FlushChain(ch); return nil })
			default:
				queue = append(queue, func(c *nftables.Conn) error { c.DelChain(ch); return nil })
			}
		case *knftables.Rule:
			exprs, ok := ruleExprs(obj.Rule)
			if !ok || o.verb != opAdd {
				return errUnsupported
			}
			rule := &nftables.Rule{Table: table, Chain: &nftables.Chain{Name: obj.Chain, Table: table}, Exprs: exprs}
			queue = append(queue, func(c *nftables.Conn) error { c.AddRule(rule); return nil })
		case *knftables.Element:
			// Consecutive operations on one set's elements go in one
			// message, as nft would send `{ a, b, c }`.
			name := obj.Set + obj.Map
			s, ok := sets[name]
			if !ok || o.verb == opFlush {
				return errUnsupported
			}
			var elems []nftables.SetElement
			j := i
			for ; j < len(ops); j++ {
				e, ok := ops[j].obj.(*knftables.Element)
				if !ok || ops[j].verb != o.verb || e.Set+e.Map != name {
					break
				}
				el, err := encodeElement(s, e, o.verb == opAdd)
				if err != nil {
					return errUnsupported
				}
				elems = append(elems, el)
			}
			i = j - 1
			set := &nftables.Set{Table: table, Name: name, IsMap: s.Map}
			if o.verb == opAdd {
				queue = append(queue, func(c *nftables.Conn) error { return c.SetAddElements(set, elems) })
			} else {
				queue = append(queue, func(c *nftables.Conn) error { return c.SetDeleteElements(set, elems) })
			}
		default:
			return errUnsupported // sets, maps, tables: full syncs and affinity changes
		}
	}
	conn, err := n.Conn()
	if err != nil {
		return err
	}
	for _, q := range queue {
		if err := q(conn); err != nil {
			return err
		}
	}
	return conn.Flush()
}
