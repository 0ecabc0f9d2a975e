"""make ncs2-check, inside the OpenVINO 2021.4.2 environment: would MYRIAD run every op of each model?

``query_network`` needs no stick: it asks the MYRIAD plugin which device each operation of a model
maps to. Prints one line per model and exits 1 if any operation would not run on the stick.

    python ncs2_probe.py frame.onnx spatial.onnx temporal.onnx
"""

import sys

from fer_edge.runtime.ovcompat import Core, version_text


def _ops(model):
    """Names of a read model's operations, for 2021.4 (via nGraph) and later releases."""
    net = getattr(model, "net", None)
    if net is not None:  # 2021.4: an IENetwork behind ovcompat's LegacyCore
        import ngraph

        return {op.get_friendly_name() for op in ngraph.function_from_cnn(net).get_ordered_ops()}
    return {op.get_friendly_name() for op in model.get_ordered_ops()}


def main(paths):
    core = Core()
    failed = 0
    for path in paths:
        model = core.read_model(path)
        mapped = core.query_model(model, "MYRIAD")
        ops = _ops(model)
        missing = sorted(op for op in ops if mapped.get(op) != "MYRIAD")
        print(
            "{}: {}/{} operations on MYRIAD (OpenVINO {} query_network){}".format(
                path,
                len(ops) - len(missing),
                len(ops),
                version_text(),
                "; not: " + ", ".join(missing[:5]) if missing else "",
            )
        )
        failed += bool(missing)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
