"""Extra time per live update of PatternDynamics.fields (churn, births/deaths, dead neurons), next to
the grid partition it reads: `.venv/bin/python benchmarks/dynamics_cost.py` (about a minute)."""
import time, torch, numpy as np
torch.set_num_threads(1)
from polytope_lens.core.settings import RunConfig
from polytope_lens.core.training import Trainer
from polytope_lens.core.images import load_target
from polytope_lens.core.samples import sample_path
from polytope_lens.geometry.grid import compute_partition
from polytope_lens.geometry.pattern_dynamics import PatternDynamics
target = load_target(str(sample_path("ring")))
for layers, R in (("14x6", 512), ("14x6", 1024), ("64x8", 512), ("1024", 512)):
    tr = Trainer(RunConfig(layers=layers), target)
    dyn = PatternDynamics(); grid_t, dyn_t = [], []
    for i in range(12):
        tr.step(20)
        t0 = time.perf_counter(); part = compute_partition(tr.model, R); t1 = time.perf_counter()
        dyn.fields(tr, part, None); t2 = time.perf_counter()
        if i >= 2: grid_t.append(t1 - t0); dyn_t.append(t2 - t1)
    print(f"{layers:6s} R={R}: grid partition {np.median(grid_t)*1e3:.1f} ms, dynamics +{np.median(dyn_t)*1e3:.2f} ms per update ({part.region_count} regions)")
