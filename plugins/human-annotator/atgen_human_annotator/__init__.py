"""atgen-human-annotator: label the selected items yourself in a local web page.

The ``human`` annotator serves the page while the loop waits for the batch; ``atgen annotate RUN_DIR``
serves the same page for a stopped run. Every answer is written to the run store at once.
"""

from __future__ import annotations

__version__ = "0.1.0"
