"""Build glue for the liteport Python package.

The extension ``liteport._core`` is compiled from every C file under ``src/`` (globbed when the
build runs, so new source files need no edit here) plus the binding ``python/_core.c``. The C core
needs nothing beyond libc and libm. Metadata lives in pyproject.toml; the version is read from
``include/liteport.h`` so the C library and the wheel cannot disagree.
"""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from glob import glob

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = os.path.dirname(os.path.abspath(__file__))
os.chdir(HERE)  # setuptools wants source paths relative to the project root


def _version():
    with open(os.path.join(HERE, "include", "liteport.h"), encoding="utf-8") as f:
        m = re.search(r'#define\s+LITEPORT_VERSION\s+"([^"]+)"', f.read())
    if not m:
        raise RuntimeError("LITEPORT_VERSION not found in include/liteport.h")
    return m.group(1)


def _sources():
    core = sorted(p.replace(os.sep, "/") for p in glob("src/**/*.c", recursive=True))
    if not core:
        raise RuntimeError("no C sources found under src/")
    return core + ["python/_core.c"]


def _parallel_compile(compiler):
    """Make `compiler.compile` build the object files on all cores. setuptools only runs whole
    extensions in parallel, and ours is one extension of dozens of C files. Uses the private
    _setup_compile/_get_cc_args/_compile hooks of distutils' CCompiler; without them (or with
    one core) the stock serial compile stays."""
    n = os.cpu_count() or 1
    if n < 2 or not all(hasattr(compiler, a) for a in ("_setup_compile", "_get_cc_args", "_compile")):
        return

    def compile(sources, output_dir=None, macros=None, include_dirs=None, debug=0,
                extra_preargs=None, extra_postargs=None, depends=None):
        macros, objects, extra_postargs, pp_opts, build = compiler._setup_compile(
            output_dir, macros, include_dirs, sources, depends, extra_postargs)
        cc_args = compiler._get_cc_args(pp_opts, debug, extra_preargs)

        def one(obj):
            if obj in build:
                src, ext = build[obj]
                compiler._compile(obj, src, ext, cc_args, extra_postargs, pp_opts)

        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(one, objects))  # list() re-raises the first compile error
        return objects

    compiler.compile = compile


class BuildExt(build_ext):
    """Adds per-compiler flags (the compiler is only known once the build runs)."""

    def build_extensions(self):
        ctype = self.compiler.compiler_type
        if ctype != "msvc":
            _parallel_compile(self.compiler)
        for ext in self.extensions:
            if ctype == "msvc":
                ext.extra_compile_args += ["/std:c11", "/W3"]
            else:  # gcc and clang (unix, mingw32, cygwin)
                ext.extra_compile_args += ["-std=c11", "-Wall", "-Wextra"]
                ext.libraries += ["m"]
        super().build_extensions()


core = Extension(
    "liteport._core",
    sources=_sources(),
    include_dirs=["include", "src"],
    depends=sorted(glob("include/*.h") + glob("src/**/*.h", recursive=True)
                   + glob("src/**/*.def", recursive=True)),
)

setup(
    version=_version(),
    ext_modules=[core],
    cmdclass={"build_ext": BuildExt},
    # Keep setuptools' objects apart from the C build's build/ outputs.
    options={"build": {"build_base": "build/python"}},
)
