# Fits the erfc polynomial of runtime/kernels/activations.ts (prints the coefficients E0..E10 and
# the maximal errors). erfc(z) = t·exp(-z² + P(t)), t = 1/(1 + z/2), z >= 0; P is fitted by
# Chebyshev least squares to ln(erfc(z)/t) + z² on t in [1/7, 1] (z in [0, 12]), against mpmath.
#   /usr/bin/python3 test/reference/dense/fit_erfc.py
import math

import mpmath
import numpy as np

mpmath.mp.dps = 40
DEG, N, TMIN = 10, 400, 1 / 7.0


def g(t):
    t = mpmath.mpf(t)
    z = 2 / t - 2
    return float(mpmath.log(mpmath.erfc(z) / t) + z * z)


xs = np.cos(np.pi * (np.arange(N) + 0.5) / N)
ts = TMIN + (1 - TMIN) * (xs + 1) / 2
cheb = np.polynomial.chebyshev.Chebyshev.fit(ts, [g(t) for t in ts], DEG, domain=[TMIN, 1])
coef = cheb.convert(kind=np.polynomial.Polynomial, domain=[TMIN, 1], window=[TMIN, 1]).coef
for i, c in enumerate(coef):
    print(f"E{i} = {float(c)!r}")

worst_erf = worst_rel = 0.0
for z in np.linspace(0, 12, 12001):
    t = 1 / (1 + 0.5 * z)
    erfc = t * math.exp(-z * z + np.polyval(coef[::-1], t))
    worst_erf = max(worst_erf, abs((1 - erfc) - float(mpmath.erf(z))))
    worst_rel = max(worst_rel, abs(erfc - float(mpmath.erfc(z))) / float(mpmath.erfc(z)))
print(f"max |erf error| {worst_erf:.3g}, max relative erfc error {worst_rel:.3g} on [0, 12]")
