"""make ncs2-check, inside the OpenVINO 2021.4.2 environment: would MYRIAD run every op of each model?

``query_network`` needs no stick: it asks the MYRIAD plugin which device each operation of a model
maps to. The plugin leaves out of its answer operations its own transformations merge away (a
Squeeze chain folded into the next Unsqueeze; here even a Parameter and a Result of a test graph),
so the line counts three ways: on MYRIAD, on another device (the model cannot run on the stick:
exit 1), and not listed (named by type; the CPU plugin's answer lists every one of them).

    python ncs2_probe.py frame.onnx spatial.onnx temporal.onnx
"""

import sys

from fer_edge.runtime.ovcompat import Core, version_text


def _ops(model):
    """Name -> type of a read model's operations, for 2021.4 (via nGraph) and later releases."""
    net = getattr(model, "net", None)
    if net is not None:  # 2021.4: an IENetwork behind ovcompat's LegacyCore
        import ngraph

        return {op.get_friendly_name(): op.get_type_name() for op in ngraph.function_from_cnn(net).get_ordered_ops()}
    return {op.get_friendly_name(): op.get_type_name() for op in model.get_ordered_ops()}


def main(paths):
    core = Core()
    failed = 0
    for path in paths:
        model = core.read_model(path)
        mapped = core.query_model(model, "MYRIAD")
        ops = _ops(model)
        on = sum(1 for op in ops if mapped.get(op) == "MYRIAD")
        elsewhere = sorted(op for op in ops if op in mapped and mapped[op] != "MYRIAD")
        unlisted = sorted(op for op in ops if op not in mapped)
        line = f"{path}: {on}/{len(ops)} operations on MYRIAD (OpenVINO {version_text()} query_network)"
        if unlisted:
            on_cpu = core.query_model(model, "CPU")
            line += "; not listed: {} ({} of them listed by CPU)".format(
                ", ".join(f"{ops[op]} {op}" for op in unlisted[:5]), sum(1 for op in unlisted if op in on_cpu)
            )
        if elsewhere:
            line += "; on another device: " + ", ".join(elsewhere[:5])
        print(line)
        failed += bool(elsewhere) or len(unlisted) > len(ops) // 20  # more than 5 % missing: not name fusion
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
