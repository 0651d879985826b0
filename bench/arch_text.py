"""The short form of an architecture that MODELS.md's tables print:
resolution, then the kernel sizes and expand ratios of the blocks each stage
runs, stage by stage, e.g. "r28, k 75 33 555 337 75, e 43 46 446 664 43".
Shared by bench/models-table.sh and bench/budget-table.sh."""


def arch_text(a):
    per = len(a["ks"]) // len(a["d"])

    def active(xs):
        return " ".join("".join(str(xs[s * per + j]) for j in range(d)) for s, d in enumerate(a["d"]))

    return "r%d, k %s, e %s" % (a["r"], active(a["ks"]), active(a["e"]))
