// PyTorch target, part 7: the smoothness penalties by double backprop (torch.autograd.grad with
// create_graph=True), with the TypeScript trainer's conventions (compiler/codegen/emit-penalty.ts):
// L is the batch's mean loss (what the loss trace records; the penalty is not in it), x the batch
// input after preprocessing and augmentation, f the logits, n the rows of the global batch.
// - input_grad_penalty λ: R = λ·||∇_x L||² (sum of squares over the whole batch).
// - jacobian_penalty(λ, projections=P): R = λ·C/(P·n)·Σ_p ||∇_x Σ_s v_ps·f_s||², v_ps a unit vector
//   per projection p and sample s drawn from dnnc's RNG exactly as the TypeScript trainer draws it
//   (stream "penalty:jacobian", key hash3(seed, stream, step) with step the optimizer steps taken
//   so far, counters 2·((p·B + s)·C + c) and +1 for Box-Muller, z rounded to float32 before the
//   normalization as the heap stores it), B the compiled batch size, s the row in the global batch.
// Under torchrun each rank computes the penalty of its own rows (samples are independent: the
// penalties refuse batch norm), and the gradients are averaged by hand (DDP does not support
// torch.autograd.grad), scaled like the loss so the sum over ranks is the global batch's.
// Python source, kept verbatim; no `${` may appear in it.

export const PY_PENALTY = String.raw`
# ---- smoothness penalties (compiler/codegen/emit-penalty.ts), by double backprop -------------------
S_PEN_JAC = stream_id("penalty:jacobian")


def projection_vectors(seed, step, pj, positions):
    """v_ps for projection pj and the rows at 'positions' of the global batch: (len(positions), C) float32."""
    jd = hash3(seed & M32, S_PEN_JAC, step)
    rows = torch.tensor(positions, dtype=torch.int64).reshape(-1, 1)
    ctr = 2 * ((pj * BATCH + rows) * OUTPUT_SIZE + torch.arange(OUTPUT_SIZE, dtype=torch.int64).reshape(1, -1))
    u1 = ((hash3_vec(jd, S_PEN_JAC, ctr) >> 8) + 1).to(torch.float64) * (1 / 16777217)
    u2 = (hash3_vec(jd, S_PEN_JAC, ctr + 1) >> 8).to(torch.float64) * (1.0 / 16777216)
    z = torch.sqrt(-2 * torch.log(u1)) * torch.cos(2 * math.pi * u2)
    ss = torch.zeros(len(positions), dtype=torch.float64)
    for c in range(OUTPUT_SIZE):  # in order, as the TypeScript loop sums
        ss = ss + z[:, c] * z[:, c]
    sc = torch.where(ss > 0, 1 / torch.sqrt(ss), torch.zeros_like(ss))
    return (z.to(torch.float32).to(torch.float64) * sc.reshape(-1, 1)).to(torch.float32)


def smoothness_penalty(mean_loss, out, x, n, seed, step, positions):
    """The penalty R of this rank's rows (a scalar tensor in the graph: its gradient is exact)."""
    pen = torch.zeros((), dtype=out.dtype, device=out.device)
    if PENALTY["input_grad"] is not None:
        (g,) = torch.autograd.grad(mean_loss, x, create_graph=True)
        pen = pen + PENALTY["input_grad"] * (g * g).sum()
    jp = PENALTY["jacobian"]
    if jp is not None:
        c = jp["lambda"] * OUTPUT_SIZE / jp["projections"] / n
        for pj in range(jp["projections"]):
            v = projection_vectors(seed, step, pj, positions).to(out.device)
            (g,) = torch.autograd.grad((out * v).sum(), x, create_graph=True)
            pen = pen + c * (g * g).sum()
    return pen
`;
