package baseline

// Components labels every vertex of g with the smallest vertex (in g's
// numbering, which is the IDs' order) of its weakly connected component:
// union-find over the edges taken both ways, with path halving and the
// smaller root kept, on one thread.
func Components(g *Graph) []int32 {
	n := len(g.Names)
	parent := make([]int32, n)
	for i := range parent {
		parent[i] = int32(i)
	}
	find := func(x int32) int32 {
		for parent[x] != x {
			parent[x] = parent[parent[x]]
			x = parent[x]
		}
		return x
	}
	for v := range n {
		for _, d := range g.Dst[g.Off[v]:g.Off[v+1]] {
			a, b := find(int32(v)), find(d)
			switch {
			case a < b:
				parent[b] = a
			case b < a:
				parent[a] = b
			}
		}
	}
	for v := range parent {
		parent[v] = find(int32(v))
	}
	return parent
}
