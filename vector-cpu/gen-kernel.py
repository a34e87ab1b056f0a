#!/usr/bin/env python3
"""Regenerates Gemm.java's micro-kernel between its BEGIN/END GENERATED KERNEL markers.

usage: python3 vector-cpu/gen-kernel.py MR NV U
  MR  rows of the register tile (C rows per call)
  NV  vectors per row (NR = NV * VL columns)
  U   unroll factor of the k loop

C2 keeps FloatVectors in registers only as named locals of one method, so the MR*NV accumulators are spelled out.
MR*NV + NV + 1 must stay within the 32 vector registers of AVX-512, and the method under HotSpot's 8000-bytecode
limit for compilation (12x2 with U=2 is about 2,950 bytes). Also set MR in Gemm.java to match.
"""
import re
import sys
from pathlib import Path

MR, NV, U = (int(a) for a in sys.argv[1:4])


def step(lines, ind, p):
    lines.append(f"{ind}int b = bo + ({p}) * NR, a = ao + ({p}) * MR;")
    for v in range(NV):
        lines.append(f"{ind}FloatVector b{v} = FloatVector.fromArray(S, bp, b + {v} * VL);")
    for r in range(MR):
        lines.append(f"{ind}FloatVector a{r} = FloatVector.broadcast(S, ap[a + {r}]);")
        for v in range(NV):
            lines.append(f"{ind}c{r}{v} = a{r}.fma(b{v}, c{r}{v});")


L = [f"    // BEGIN GENERATED KERNEL (gen-kernel.py {MR} {NV} {U})",
     f"    /** C[MR, NR] = (add ? C : 0) + Ap·Bp for Ap and Bp packed p-major, MR and NR wide: MR={MR}, NR={NV}·VL, k unrolled by {U}. */",
     "    static void kernelK(int kc, float[] ap, int ao, float[] bp, int bo, float[] c, int co, int ldc, boolean add) {"]
for r in range(MR):
    L.append("        " + " ".join(f"FloatVector c{r}{v} = FloatVector.zero(S);" for v in range(NV)))
# the bound as a plain "p < limit": C2 does not count a loop tested as "p + U <= kc", and then keeps a safepoint
# poll and the range checks of every access inside it
L.append(f"        int p = 0, kcu = kc - kc % {U};")
L.append(f"        for (; p < kcu; p += {U}) {{ // unrolled: loop bookkeeping would otherwise take FMA-port slots")
for u in range(U):
    L.append("            {")
    step(L, "                ", f"p + {u}")
    L.append("            }")
L.append("        }")
L.append("        for (; p < kc; p++) {")
step(L, "            ", "p")
L.append("        }")
L.append("        if (add) {")
for r in range(MR):
    for v in range(NV):
        L.append(f"            c{r}{v} = c{r}{v}.add(FloatVector.fromArray(S, c, co + {r} * ldc + {v} * VL));")
L.append("        }")
for r in range(MR):
    for v in range(NV):
        L.append(f"        c{r}{v}.intoArray(c, co + {r} * ldc + {v} * VL);")
L.append("    }")
L.append("    // END GENERATED KERNEL")

path = Path(__file__).parent / "src/main/java/dev/fovea/cpu/Gemm.java"
src = path.read_text()
new, n = re.subn(r"    // BEGIN GENERATED KERNEL.*?    // END GENERATED KERNEL", lambda m: "\n".join(L), src, flags=re.S)
if n != 1:
    sys.exit("Gemm.java: markers not found")
path.write_text(new)
print(f"kernel {MR}x{NV} (U={U}) written to {path}")
