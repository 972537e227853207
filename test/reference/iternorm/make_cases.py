# Reference for runtime/kernels/iternorm.ts: IterNorm (Huang et al. 2019) written with plain torch
# ops in float64, gradients by autograd (the authors' PyTorch code, without its hand-written
# backward). Run: /usr/bin/python3 test/reference/iternorm/make_cases.py > test/reference/iternorm/cases.json
import json
import torch

torch.manual_seed(0)
torch.set_default_dtype(torch.float64)


def iternorm(x, gamma, beta, G, T, eps, rm, rwm, eta):
    n, C = x.shape[0], x.shape[1]
    S = x[0, 0].numel()
    g = C // G
    # (n, C, S) -> (G, g, m)
    X = x.reshape(n, C, S).permute(1, 0, 2).reshape(G, g, n * S)
    m = X.shape[2]
    mu = X.mean(2, keepdim=True)
    xc = X - mu
    I = torch.eye(g).expand(G, g, g)
    sigma = eps * I + xc @ xc.transpose(1, 2) / m
    tr = sigma.diagonal(dim1=1, dim2=2).sum(1).reshape(G, 1, 1)
    sn = sigma / tr
    P = I.clone()
    for _ in range(T):
        P = 1.5 * P - 0.5 * (P @ P @ P @ sn)
    wm = P / tr.sqrt()
    xhat = wm @ xc
    y = xhat.reshape(C, n, S).permute(1, 0, 2).reshape(x.shape)
    shape = [1, C] + [1] * (x.dim() - 2)
    y = y * gamma.reshape(shape) + beta.reshape(shape)
    new_rm = (1 - eta) * rm + eta * mu.reshape(C)
    new_rwm = (1 - eta) * rwm + eta * wm
    return y, new_rm, new_rwm


def evaluate(x, gamma, beta, G, rm, rwm):
    n, C = x.shape[0], x.shape[1]
    S = x[0, 0].numel()
    g = C // G
    X = x.reshape(n, C, S).permute(1, 0, 2).reshape(G, g, n * S)
    xhat = rwm @ (X - rm.reshape(G, g, 1))
    y = xhat.reshape(C, n, S).permute(1, 0, 2).reshape(x.shape)
    shape = [1, C] + [1] * (x.dim() - 2)
    return y * gamma.reshape(shape) + beta.reshape(shape)


def flat(t):
    return [float(v) for v in t.detach().reshape(-1)]


cases = []
for name, shape, G, T, eps in [
    ("dense n=8 C=6 G=2 T=5", (8, 6), 2, 5, 1e-5),
    ("image n=4 C=4 3x3 G=1 T=7", (4, 4, 3, 3), 1, 7, 1e-5),
    ("dense n=10 C=4 G=4 (per-channel) T=3", (10, 4), 4, 3, 1e-3),
]:
    x = (torch.randn(*shape) * 2 + 0.5).requires_grad_(True)
    # correlated channels so that whitening matters
    with torch.no_grad():
        x[:, 1] += 0.8 * x[:, 0]
    C = shape[1]
    gamma = (torch.rand(C) + 0.5).requires_grad_(True)
    beta = torch.randn(C).requires_grad_(True)
    g = C // G
    rm = torch.zeros(C)
    rwm = torch.eye(g).expand(G, g, g).clone()
    y, new_rm, new_rwm = iternorm(x, gamma, beta, G, T, eps, rm, rwm, 0.1)
    dy = torch.randn(*shape)
    y.backward(dy)
    x_eval = torch.randn(*shape)
    y_eval = evaluate(x_eval, gamma.detach(), beta.detach(), G, new_rm, new_rwm)
    cases.append({
        "name": name, "shape": list(shape), "G": G, "T": T, "eps": eps, "momentum": 0.1,
        "x": flat(x), "gamma": flat(gamma), "beta": flat(beta), "dy": flat(dy),
        "y": flat(y), "dx": flat(x.grad), "dgamma": flat(gamma.grad), "dbeta": flat(beta.grad),
        "running_mean": flat(new_rm), "running_wm": flat(new_rwm),
        "x_eval": flat(x_eval), "y_eval": flat(y_eval),
    })
print(json.dumps({"torch": torch.__version__, "cases": cases}))
