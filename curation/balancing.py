"""The balancing rule at its published import path (``curation.balancing.keep_probability``
and its vectorised form, as DESIGN names them); it lives in ``curation.chain.balancing``."""

from curation.chain.balancing import (
    entry_probabilities,
    keep_mask,
    keep_probabilities,
    keep_probability,
    language_thresholds,
    segment_probabilities,
    t_for_tail_proportion,
    tail_proportion,
)

__all__ = ["entry_probabilities", "keep_mask", "keep_probabilities", "keep_probability", "language_thresholds",
           "segment_probabilities", "t_for_tail_proportion", "tail_proportion"]
