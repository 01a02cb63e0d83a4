"""The network simulation: `pcfx sim` and bench/network.py (`pcfx.node.sim.run`)."""
