"""What a run tells: the data card (``datacard``), the report page and its plots (``page``,
``plots``), and ``curate status`` (``status``)."""
