"""lm-evaluation-harness twins of evalsuite's tasks: a generated task folder whose hooks call evalsuite's scorers,
and the reader that rescores lm-eval's logged samples with evalsuite's metrics."""
from evalsuite.lmeval.folder import Folder, build
from evalsuite.lmeval.twins import PREFIX, Twin, plan, twin_for_task, twin_named

__all__ = ["Folder", "PREFIX", "Twin", "build", "plan", "twin_for_task", "twin_named"]
