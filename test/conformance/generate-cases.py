"""Random revision graphs and queries for the Alembic oracle (../shared/conformance/oracle.py).

    /usr/bin/python3 generate-cases.py FIRST_SEED COUNT OUT_DIR [--dependency-heavy]   # writes OUT_DIR/f_<seed>.json specs
    /usr/bin/python3 oracle.py --seeds 0 --raw-seeds 0,1 OUT_DIR/*.json   # Alembic fills in "expected"

Graphs of 4-45 revisions with several bases, merges of 2-3 heads, depends_on (on ids or on
branch labels), branch labels and ids sharing 4-6 character prefixes; queries of every kind with
version rows that Alembic itself could store (no row an ancestor of another). --dependency-heavy
makes 10-60 revisions, 45% of them with depends_on, and more merges. generated/ holds 55 of them:
seeds 1000-1039; 2001, 2036, 2115, 2137, 2139, whose sequences go on after a step where Alembic
crashes; and ten dependency-heavy ones of seeds 4000-4059. 350 were checked when they were made,
all matching.
"""
import json, random, sys, os
GREEK = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega".split()

def gen(seed, heavy=False):
    rnd = random.Random(seed)
    n = rnd.randint(10, 60) if heavy else rnd.randint(4, 45)
    revs = []
    ids = []
    parents = {}
    deps = {}
    labels_used = []
    prefixes = []
    def new_id():
        while True:
            if prefixes and rnd.random() < 0.3:
                p = rnd.choice(prefixes)
                i = p + "".join(rnd.choice("0123456789abcdef") for _ in range(8 - len(p)))
            else:
                i = "".join(rnd.choice("0123456789abcdef") for _ in range(rnd.choice([8, 8, 12])))
                prefixes.append(i[:rnd.choice([4, 5, 6])])
            if i not in ids and not any(i.startswith(x) or x.startswith(i) for x in ids):
                return i
    def ancestors(i, with_deps=True):
        seen = set(); stack = [i]
        while stack:
            x = stack.pop()
            for p in parents[x] + (deps[x] if with_deps else []):
                if p not in seen: seen.add(p); stack.append(p)
        return seen
    for k in range(n):
        i = new_id()
        heads = [x for x in ids if not any(x in parents[y] for y in ids)]
        r = rnd.random()
        if k == 0 or r < 0.08:
            down = []
        elif r < (0.4 if heavy else 0.25) and len(heads) >= 2:
            down = rnd.sample(heads, rnd.choice([2, 2, 3]) if len(heads) >= 3 else 2)
        elif r < 0.6 and heads:
            down = [rnd.choice(heads)]
        else:
            down = [rnd.choice(ids)]
        parents[i] = down
        dep = []
        if k > 1 and rnd.random() < (0.45 if heavy else 0.18):
            anc = ancestors_set = set()
            for d in down: anc |= ancestors(d) | {d}
            cands = [x for x in ids if x not in anc]
            if cands:
                dep = rnd.sample(cands, min(len(cands), rnd.choice([1, 1, 2])))
        deps[i] = dep
        rev = {"id": i, "down": None if not down else (down[0] if len(down) == 1 else down)}
        if rnd.random() < 0.12:
            lab = rnd.choice([g for g in GREEK if g not in labels_used] or [f"label{k}"])
            labels_used.append(lab); rev["branch_labels"] = [lab]
        if dep:
            # sometimes depend on a label carried by that revision
            out = []
            for d in dep:
                carried = [r2.get("branch_labels") for r2 in revs if r2["id"] == d]
                if carried and carried[0] and rnd.random() < 0.5: out.append(carried[0][0])
                else: out.append(d)
            rev["depends_on"] = out
        rev["message"] = f"fuzz rev {k}"
        revs.append(rev); ids.append(i)
    def antichain():
        pick = rnd.sample(ids, min(len(ids), rnd.choice([0, 1, 1, 1, 2, 2, 3])))
        out = []
        for p in pick:
            if any(p in ancestors(q) for q in pick if q != p): continue
            if p not in out: out.append(p)
        return out
    def target():
        r = rnd.random()
        i = rnd.choice(ids)
        lab = rnd.choice(labels_used) if labels_used else None
        choices = ["head", "heads", "base", i, i[:rnd.randint(4, 6)], f"+{rnd.randint(1,3)}", f"-{rnd.randint(1,3)}", f"{i[:6]}+{rnd.randint(1,2)}", f"{i[:6]}-{rnd.randint(1,2)}"]
        if lab: choices += [lab, f"{lab}@head", f"{lab}@base", f"{lab}@+{rnd.randint(1,2)}", f"{lab}@-{rnd.randint(1,2)}", f"{lab}@{i[:6]}"]
        return rnd.choice(choices)
    q = [{"kind": "heads"}, {"kind": "bases"}, {"kind": "branchpoints"}, {"kind": "heads", "resolve_dependencies": True}, {"kind": "history"}]
    for _ in range(2):
        a, b = rnd.choice(ids), rnd.choice(ids)
        q.append({"kind": "history", "range": rnd.choice([f"{a}:{b}", f"{a}:", f":{b}", f"base:{b}", f"{a}:heads"])})
    for _ in range(7): q.append({"kind": "upgrade", "current": antichain(), "target": target()})
    for _ in range(6): q.append({"kind": "downgrade", "current": antichain() or [rnd.choice(ids)], "target": target()})
    for _ in range(2): q.append({"kind": "stamp", "current": antichain(), "target": rnd.choice([target(), [rnd.choice(ids), rnd.choice(ids)]]), **({"purge": True} if rnd.random() < 0.3 else {})})
    q.append({"kind": "upgrade_sql", "range": rnd.choice([f"{rnd.choice(ids)}:{rnd.choice(ids)}", f"base:{rnd.choice(ids)}", "heads", f"{rnd.choice(ids)}:heads"])})
    q.append({"kind": "downgrade_sql", "range": f"{rnd.choice(ids)}:{rnd.choice(ids + ['base'])}"})
    q.append({"kind": "current", "current": antichain()})
    steps = []
    for _ in range(rnd.randint(3, 6)):
        k = rnd.choice(["upgrade", "upgrade", "downgrade", "stamp", "current"])
        steps.append({"kind": k} if k == "current" else {"kind": k, "target": target()})
    q.append({"kind": "sequence", "current": antichain(), "steps": steps})
    return {"name": f"fuzz_{seed}", "description": f"fuzz seed {seed}", "revisions": revs, "queries": q}

start, count, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
heavy = "--dependency-heavy" in sys.argv[4:]
os.makedirs(out, exist_ok=True)
for seed in range(start, start + count):
    with open(os.path.join(out, f"f_{seed:04d}.json"), "w") as f:
        json.dump(gen(seed, heavy), f, indent=1)
