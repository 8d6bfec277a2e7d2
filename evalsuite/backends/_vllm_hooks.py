"""vLLM-facing shells of the statistics processor: imported only inside vLLM processes (the leading underscore
keeps plugin discovery away from it). The work is in `vllm_stats.StatsRecorder`.

One class serves both of vLLM's model runners: V1 (`update_state` + `apply(logits)`, used on CPU and where V2 lacks
a feature) and V2 (`add_request` + `apply(logits, ctx)`, the default on GPUs), so the engine can pick either.
"""
from __future__ import annotations

from typing import Any

from vllm.v1.sample.logits_processor import LogitsProcessor as V1LogitsProcessor
from vllm.v1.sample.logits_processor.builtin import process_dict_updates
from vllm.v1.worker.gpu.sample.logits_processor.interface import LogitsProcessor as V2LogitsProcessor

from evalsuite.backends.vllm_stats import RowPlan, StatsRecorder, drain_all, read_plan

PROCESSOR_FQCN = "evalsuite.backends._vllm_hooks:StatsProcessor"
EXTENSION_FQCN = "evalsuite.backends._vllm_hooks:StatsWorkerExtension"


class StatsProcessor(V1LogitsProcessor, V2LogitsProcessor):
    """Records per-token statistics of tagged requests and forces teacher-forced tokens; leaves others alone."""

    def __init__(self, vllm_config: Any, *args: Any) -> None:
        self.recorder = StatsRecorder()
        self.v1_rows: dict[int, tuple[RowPlan, list[int]]] = {}
        self.v2_slots: dict[int, RowPlan] = {}

    def is_argmax_invariant(self) -> bool:
        return False

    def update_state(self, batch_update: Any) -> None:
        def new_state(params, _prompt_ids, output_ids):
            plan = read_plan(params)
            return (plan, output_ids) if plan is not None else None

        process_dict_updates(self.v1_rows, batch_update, new_state)

    def add_request(self, req_idx: int, sampling_params: Any) -> bool:
        plan = read_plan(sampling_params)
        if plan is None:
            self.v2_slots.pop(req_idx, None)
            return False
        self.v2_slots[req_idx] = plan
        return True

    def apply(self, logits, ctx: Any = None):
        if ctx is None:
            if not self.v1_rows:
                return logits
            rows = sorted(self.v1_rows)
            plans = [self.v1_rows[r][0] for r in rows]
            idxs = [len(self.v1_rows[r][1]) for r in rows]
            return self.recorder.process(logits, rows, plans, idxs)
        if not self.v2_slots or logits.shape[0] != len(ctx.idx_mapping_np):
            return logits
        rows, plans, idxs = [], [], []
        for b, slot in enumerate(ctx.idx_mapping_np.tolist()):
            plan = self.v2_slots.get(slot)
            if plan is not None:
                rows.append(b)
                plans.append(plan)
                idxs.append(int(ctx.seq_lens_upper_bound_np[b]) - plan.prompt_len)
        return self.recorder.process(logits, rows, plans, idxs) if rows else logits


class StatsWorkerExtension:
    """Mixed into vLLM's worker class: `collective_rpc("evalsuite_drain_stats")` returns this worker's records."""

    def evalsuite_drain_stats(self) -> dict[str, dict[str, Any]]:
        """Every worker clears its records; only tensor-parallel rank 0 of each stage sends them back (the TP ranks
        hold identical copies, and sending all of them multiplies what crosses Ray and ZMQ by the TP size)."""
        records = drain_all()
        return records if _tp_rank() == 0 else {}


def _tp_rank() -> int:
    try:
        from vllm.distributed import get_tensor_model_parallel_rank

        return int(get_tensor_model_parallel_rank())
    except (ImportError, AssertionError, AttributeError, RuntimeError):  # no parallel state: a single worker
        return 0
