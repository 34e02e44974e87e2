"""The notebook widget's cost to a training loop: ``lens.update(model, loss=...)`` on a 14x6 net,
measured inside a real Jupyter kernel (nbclient), where each update is a comm message the kernel
signs and sends; no front end draws (the drawing happens in the browser, not in the loop).

    .venv/bin/python benchmarks/notebook_update.py            # about half a minute
    .venv/bin/python benchmarks/notebook_update.py --quick

Figures (row 11 of run_all.py):
- one update that is sent (max_rate unbounded, so every call sends): median ms per call; target <= 20 ms;
- a training loop at batch 1024 calling update every step (the default max_rate, 30 sends/s) against
  the same loop bare: steps/s, the two measured in alternating blocks (A B A B), medians.
"""

from __future__ import annotations

import argparse
import json
import sys

KERNEL_CODE = r"""
import json, statistics, time
import torch
import polytope_lens as pl
from polytope_lens.core.model import build_mlp

torch.set_num_threads(1)
model = build_mlp([14] * 6, generator=torch.Generator().manual_seed(0))
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
x = torch.rand(1024, 2) * 2 - 1
target = (x.norm(dim=1, keepdim=True) < 0.6).float()

def train_step():
    loss = ((model(x) - target) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss

every_call = pl.Lens(model, max_rate=1e9)  # every update is sent
sent = []
for i in range(CALLS):
    loss = train_step()
    t = time.perf_counter()
    every_call.update(model, loss=loss.item())
    sent.append(time.perf_counter() - t)

lens = pl.Lens(model)  # the default rate

def block(with_lens, seconds):
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        loss = train_step()
        if with_lens:
            lens.update(model, loss=loss.item())
        else:
            loss.item()  # the bare loop reads the loss too, as a loop that reports it would
        steps += 1
    return steps / (time.perf_counter() - start)

bare, live = [], []
for _ in range(BLOCKS):
    bare.append(block(False, SECONDS))
    live.append(block(True, SECONDS))
print(json.dumps({"sent_ms": 1e3 * statistics.median(sent), "sent_worst_ms": 1e3 * max(sent), "calls": CALLS,
                  "bare_steps_per_s": statistics.median(bare), "live_steps_per_s": statistics.median(live),
                  "ratio": statistics.median(live) / statistics.median(bare), "blocks": BLOCKS, "seconds": SECONDS,
                  "update_bytes": len(every_call.weights)}))
"""


def run(calls: int = 300, blocks: int = 3, seconds: float = 2.0, log=lambda *_: None) -> dict:
    """The figures, from one kernel started for them (nbclient)."""
    import nbformat
    from nbclient import NotebookClient

    code = KERNEL_CODE.replace("CALLS", str(calls)).replace("BLOCKS", str(blocks)).replace("SECONDS", repr(seconds))
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    NotebookClient(nb, timeout=600, kernel_name="python3").execute()
    out = "".join(o.get("text", "") for o in nb.cells[0].outputs if o.output_type == "stream")
    result = json.loads(out.strip().splitlines()[-1])
    log(f"  lens.update sent: {result['sent_ms']:.2f} ms per call (worst {result['sent_worst_ms']:.1f} ms); "
        f"loop with update every step {result['live_steps_per_s']:.0f} steps/s vs bare {result['bare_steps_per_s']:.0f}")
    return result


def rows(r: dict) -> list[tuple]:
    return [
        ("11", f"notebook: lens.update 14x6 sent (a comm message of {r['update_bytes']:,} weight bytes), per call",
         f"{r['sent_ms']:.2f} ms", "", "", "<= 20 ms", "yes" if r["sent_ms"] <= 20 else "NO"),
        ("11", "notebook: training loop calling lens.update every step (30 sends/s) vs bare, steps/s",
         f"{r['live_steps_per_s']:.0f}", f"{r['bare_steps_per_s']:.0f}", f"{r['ratio']:.2f}", "", ""),
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    r = run(calls=100 if args.quick else 300, blocks=1 if args.quick else 3, seconds=1.0 if args.quick else 2.0,
            log=lambda m: print(m, file=sys.stderr))
    sys.path.insert(0, __file__.rsplit("/", 1)[0])
    from run_all import table

    print(table(rows(r)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
