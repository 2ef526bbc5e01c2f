"""Install admmnet: gradient-free (ADMM) training of full-precision and quantized MLPs."""
from pathlib import Path

from setuptools import find_packages, setup

HERE = Path(__file__).parent
about = {}
exec((HERE / "admmnet" / "_version.py").read_text(), about)

setup(
    name="admmnet",
    version=about["__version__"],
    description=(
        "Gradient-free training of full-precision and few-bit MLPs with ADMM "
        "(QNN-ADMM), with the quantization baselines it is compared against."
    ),
    long_description=(HERE / "README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="BSD-3-Clause",
    python_requires=">=3.10",
    # the repository's data/ (Seeds and Pendigits, UCI, CC BY 4.0) ships inside the package as
    # admmnet/bundled_data, so that an installed admmnet needs neither a network nor ADMMNET_DATA
    # for them (admmnet.datasets._fetch.bundled_dir); MNIST is never shipped
    packages=find_packages(include=["admmnet", "admmnet.*"]) + ["admmnet.bundled_data"],
    package_dir={"admmnet.bundled_data": "data"},
    package_data={"admmnet.bundled_data": ["README.md", "seeds/seeds_dataset.txt",
                                           "pendigits/pendigits.tra", "pendigits/pendigits.tes"]},
    install_requires=[
        "numpy>=1.24",
        "scipy>=1.10",
        "array-api-compat>=1.16",
        # the estimators are scikit-learn estimators (admmnet.model imports sklearn.base);
        # threadpoolctl: QNNADMM(blas_threads=...) (a dependency of scikit-learn, named since we import it)
        "scikit-learn>=1.2",
        "threadpoolctl>=3.0",
        # the CPU fast path (admmnet/kernels/numba_cpu.py); the published tables were made with it,
        # and low-bit runs with restarts can keep another initialisation without it
        # (docs/reliability.md), so it is not optional (ADMMNET_NO_NUMBA=1 still selects the reference)
        "numba>=0.59",
        # the progress bar of 'admmnet train' on a terminal (plain lines without it)
        "tqdm>=4.60",
    ],
    extras_require={
        # numba is in "test" so that CI runs the Numba kernels against the reference
        # (tests/test_kernels.py); without it the package falls back to the reference kernels
        # scikit-learn: its bundled datasets (digits, wine, breast cancer) test the automatic
        # preset on data no preset has seen (tests/test_presets.py, benchmarks/auto_preset.py)
        # hypothesis: the fuzz suite of tests/test_fuzz.py
        # onnx + onnxruntime: tests/test_export.py runs every exported graph (skipped without them)
        # dask + distributed: the LocalCluster equality tests of tests/test_distributed.py
        "test": ["pytest>=7", "array-api-strict>=2.3", "numba>=0.59", "scikit-learn>=1.2", "hypothesis>=6.0",
                 "onnx>=1.17", "onnxruntime>=1.20", "dask>=2024.1", "distributed>=2024.1"],
        # data-parallel QNN-ADMM on a Dask cluster (QNNADMM.fit(X, y, client=...), admmnet train --workers N)
        "dask": ["dask>=2024.1", "distributed>=2024.1"],
        # 'admmnet export --format onnx' (admmnet.export); onnxruntime checks the graph it writes.
        # INT4/INT16 DequantizeLinear need opset 21, INT2 opset 25 (tested: onnx 1.23, onnxruntime 1.32;
        # an onnx without INT2 gets INT4, an older runtime: admmnet export --weight-type int8)
        "onnx": ["onnx>=1.17", "onnxruntime>=1.20"],
        "bench": ["scikit-learn>=1.2", "matplotlib>=3.5"],
        "fast": ["numba>=0.59"],     # kept for old install lines: numba is a core dependency now
        "gpu": ["cupy-cuda12x>=13"],
        # box plots of benchmarks/reproduce.py (the study runs and writes its tables without it)
        # and 'admmnet plot' (training curves of result JSON files)
        "plots": ["matplotlib>=3.5"],
    },
    entry_points={"console_scripts": ["admmnet=admmnet.cli:main"]},
    classifiers=[
        "Programming Language :: Python :: 3",
        "Topic :: Scientific/Engineering :: Artificial Intelligence",
    ],
)
