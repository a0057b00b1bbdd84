package enforce

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/podnet/podnet/pkg/netpol"
)

// The matrix decides pod sets at once, and the admin tiers pair by pair for
// the subjects they select: with random ANPs, a BANP and NetworkPolicies,
// every cell must still be what Allowed says for that pair.
func TestMatrixAgreesWithAdminTiers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	probe := []netpol.PortProto{{Port: 80, Protocol: "TCP"}, {Port: 81, Protocol: "TCP"}, {Port: 81, Protocol: "UDP"}, {Port: 80, Protocol: "SCTP"}}
	for i := range 40 {
		docs := randomAdmin(rng)
		if rng.IntN(2) == 0 {
			docs += "\n---\n" + randomPolicies(rng, 1+rng.IntN(2))
		}
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			eng := engine(t, docs)
			c := eng.Cluster
			for _, ports := range [][]netpol.PortProto{nil, probe} {
				for cell := range eng.Matrix(ports).Cells() {
					from, to := c.Pod(cell.From), c.Pod(cell.To)
					if from == to {
						continue
					}
					if want := eng.Allowed(netpol.PodEndpoint(from), netpol.PodEndpoint(to), cell.Port, cell.Protocol); cell.Allowed != want {
						t.Fatalf("%s -> %s %d/%s: matrix %v, Allowed %v\npolicies:\n%s", cell.From, cell.To, cell.Port, cell.Protocol, cell.Allowed, want, docs)
					}
				}
			}
		})
	}
}
