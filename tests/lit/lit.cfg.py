# lit configuration: .mlir tests under tests/lit, run with pgc-opt and FileCheck.
import os
import lit.formats

config.name = "pgc"
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py.in", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = config.pgc_test_exec_root
path = os.pathsep.join([config.pgc_tools_dir, config.llvm_tools_dir, config.environment.get("PATH", "")])
config.environment["PATH"] = path
config.substitutions.append(("%pgc_source", config.pgc_source_dir))
