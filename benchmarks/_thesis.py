"""The published numbers (thesis Tables 6.3-6.5), in one place.

``THESIS[dataset][method][bits] = (mean, std)`` in percent, method names as in the CLI
(``ste`` is the thesis's QNN-STE), bits an int or ``"fp"`` (the thesis's full-precision
network, listed under ``fp``). DQ and QAT are 8-bit only.
"""
from __future__ import annotations

__all__ = ["THESIS", "TABLE_METHODS", "TABLE_BITS", "thesis_mean"]

#: Column order of the thesis tables, and their bit widths.
TABLE_METHODS = ("ptq", "ste", "qnn-admm", "lq", "dq", "qat")
TABLE_BITS = (8, 4, 2, 1)

THESIS: dict[str, dict[str, dict]] = {
    "seeds": {
        "fp": {"fp": (93.25, 2.84)},
        "ptq": {8: (93.25, 2.84), 4: (86.74, 4.03), 2: (63.26, 22.49), 1: (33.52, 13.36)},
        "ste": {8: (93.25, 2.84), 4: (89.77, 1.86), 2: (87.67, 4.17), 1: (38.14, 18.70)},
        "qnn-admm": {8: (82.56, 9.32), 4: (91.16, 3.72), 2: (88.61, 3.95), 1: (66.51, 18.49)},
        "lq": {8: (93.72, 2.34), 4: (92.56, 3.09), 2: (89.07, 4.99), 1: (55.81, 22.09)},
        "dq": {8: (93.72, 2.95)},
        "qat": {8: (94.65, 2.95)},
    },
    "pendigits": {
        "fp": {"fp": (98.32, 0.25)},
        "ptq": {8: (97.99, 0.36), 4: (67.04, 14.21), 2: (25.17, 8.60), 1: (9.89, 0.25)},
        "ste": {8: (97.89, 0.43), 4: (92.76, 1.68), 2: (45.80, 14.65), 1: (16.52, 4.32)},
        "qnn-admm": {8: (85.01, 1.88), 4: (81.93, 4.33), 2: (53.32, 11.62), 1: (35.73, 9.21)},
        "lq": {8: (98.15, 0.20), 4: (91.54, 4.29), 2: (53.08, 8.79), 1: (31.12, 10.12)},
        "dq": {8: (98.07, 0.23)},
        "qat": {8: (98.17, 2.92)},
    },
    "mnist": {
        "fp": {"fp": (95.33, 0.27)},
        "ptq": {8: (94.31, 1.32), 4: (39.37, 21.21), 2: (10.53, 1.11), 1: (9.74, 0.89)},
        "ste": {8: (95.27, 0.93), 4: (85.99, 1.30), 2: (16.19, 5.98), 1: (10.65, 1.58)},
        "qnn-admm": {8: (86.28, 0.74), 4: (86.08, 0.75), 2: (81.26, 2.06), 1: (67.12, 5.11)},
        "lq": {8: (97.26, 0.09), 4: (97.09, 0.16), 2: (82.61, 23.69), 1: (23.07, 23.62)},
        "dq": {8: (97.22, 0.08)},
        "qat": {8: (95.55, 0.65)},
    },
}


#: The thesis's Pendigits table, the reference for both Pendigits protocols of the study
#: ("pendigits": writer-independent test; "pendigits-wd": writer-dependent, the one its
#: section 6.1.1 describes; see benchmarks/_runs.py STUDY_DATASETS).
THESIS["pendigits-wd"] = THESIS["pendigits"]


def thesis_mean(dataset: str, method: str, bits) -> float | None:
    """The thesis mean (percent) of a cell, or None where the thesis has none."""
    cell = THESIS.get(dataset, {}).get(method, {}).get(bits)
    return None if cell is None else cell[0]
