"""Export of curated rows to WebDataset tars for training: the plan (``plan``), one tar per
task (``stage``), ``--retry-failed`` (``retry``), the run-level files (``finish``) and the
command (``run``); the image fetcher (``fetch``), image handling (``images``, ``faces``), the
tar writer (``wds``) and online balancing (``online``)."""
