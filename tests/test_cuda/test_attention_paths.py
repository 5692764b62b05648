"""L/SDA attention: the fused path (``F.scaled_dot_product_attention`` with
the DPB bias folded into an additive mask) against the explicit definition,
``softmax(Q K^T * scale + B) V`` within each group (CrossFormer Sec.
3.2.1-3.2.2), in values and in every gradient (x, qkv, proj and the DPB
MLP).

The reference is written here from the paper, not from the module's code:
full attention over the unpadded token map in float64 on the CPU, where a
key is visible to a query iff both lie in the same group, plus the DPB MLP
applied to the pair's in-group offset ``(dy, dx)`` (query minus key). It
uses the module's parameters only.

Paths (``LSDAttention.forward``):

* ``train`` (DPB trainable, gradients on): on CUDA the SDPA kernel with a
  mask that needs a gradient; on the CPU the module's explicit path.
* ``frozen-dpb`` (mask without gradient): SDPA on both devices, gradients
  through q, k and v.
* ``no-grad`` / ``inference-mode``: the SDPA forward alone.

On CUDA each path also runs with SDPA restricted to one backend (math,
memory-efficient, cuDNN); a backend that cannot take these inputs is
skipped with PyTorch's reason. fp32 with TF32 off; the tolerance is
``1e-5`` of ``max(1, max |reference|)`` per tensor for the output and the
gradients of x, qkv and proj, and ``1e-4`` for the DPB MLP's gradients:
each is a sum over all query-key pairs of all groups of terms that nearly
cancel (a softmax is shift invariant), so fp32 round-off alone reaches
``1e-5`` there (measured on the CPU's explicit path: up to 1.0e-5 for the
DPB, at most 6e-7 for everything else). A wrong offset, mask or scale gives
errors of order 1.
"""
import pytest
import torch
import torch.nn.functional as F
from cuda_utils import DEVICES, NO_CUDA, full_fp32, max_rel_error

from mmcrossformer.models.layers import LSDAttention

TOL = 1e-5
TOL_DPB = 1e-4

# name: (batch, height, width, channels, heads, group, interval, mode);
# 64 channels give the DPB a width of 4 (channels // 16)
CASES = {
    'sda-exact': (2, 14, 14, 64, 2, 7, 1, 'sda'),
    'sda-padded': (1, 9, 13, 64, 2, 4, 1, 'sda'),
    'lda-padded': (2, 13, 17, 64, 4, 4, 2, 'lda'),
    'one-group': (2, 5, 9, 64, 2, 7, 2, 'lda'),
}
PATHS = ('train', 'frozen-dpb', 'no-grad', 'inference-mode')
BACKENDS = {
    'math': 'MATH',
    'efficient': 'EFFICIENT_ATTENTION',
    'cudnn': 'CUDNN_ATTENTION',
}


def _linear(x, params, name):
    return F.linear(x, params[name + '.weight'], params.get(name + '.bias'))


def _dpb(rel, params, prefix='dpb.'):
    """The DPB MLP (Fig. 3): Linear(2, D), then LN-ReLU-Linear three times
    (the last one to one value per head)."""
    pos = _linear(rel, params, prefix + 'pos_proj')
    for block in ('pos1', 'pos2', 'pos3'):
        norm = params[f'{prefix}{block}.0.weight']
        pos = F.layer_norm(pos, norm.shape, norm,
                           params[f'{prefix}{block}.0.bias'])
        pos = _linear(pos.relu(), params, f'{prefix}{block}.2')
    return pos


def reference_lsda(x, params, heads, group, interval, mode):
    """L/SDA of x (B, H, W, C) by its definition, with ``params`` (the
    module's parameter names); differentiable in x and every parameter."""
    b, h, w, c = x.shape
    ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing='ij')
    ys, xs = ys.flatten(), xs.flatten()
    if min(h, w) <= group:  # the whole map is one group
        gid = torch.zeros_like(ys)
        py, px = ys, xs
    else:
        step = interval if mode == 'lda' else 1
        span = group * step
        # group: (row block, column block, row offset, column offset)
        gid = torch.stack([ys // span, xs // span, ys % step, xs % step], 1)
        gid = (gid * torch.tensor([10**6, 10**4, 10**2, 1])).sum(1)
        py, px = (ys % span) // step, (xs % span) // step
    same = gid[:, None] == gid[None, :]
    rel = torch.stack([py[:, None] - py[None, :], px[:, None] - px[None, :]],
                      -1).to(x.dtype)
    bias = _dpb(rel, params).permute(2, 0, 1)  # (heads, L, L)
    d = c // heads
    qkv = _linear(x.reshape(b, h * w, c), params, 'qkv')
    q, k, v = qkv.view(b, h * w, 3, heads, d).permute(2, 0, 3, 1, 4)
    scores = (q @ k.transpose(-1, -2)) * d**-0.5 + bias
    scores = scores.masked_fill(~same, float('-inf'))
    out = (scores.softmax(-1) @ v).transpose(1, 2).reshape(b, h, w, c)
    return _linear(out, params, 'proj')


def _sdpa_backend(device, backend):
    import contextlib
    if backend == 'default':
        return contextlib.nullcontext()
    from torch.nn.attention import SDPBackend, sdpa_kernel
    return sdpa_kernel([getattr(SDPBackend, BACKENDS[backend])])


def make_attention(case):
    """The case's LSDAttention, its DPB's Linear layers random of unit
    scale: at PyTorch's default init the bias varies so little over the
    offsets that an attention without it would pass the comparison."""
    b, h, w, c, heads, group, interval, mode = CASES[case]
    torch.manual_seed(0)
    attn = LSDAttention(c, heads, group_size=group, interval=interval,
                        mode=mode)
    with torch.no_grad():
        for layer in attn.dpb.modules():
            if isinstance(layer, torch.nn.Linear):
                layer.weight.normal_()
                layer.bias.normal_()
    return attn


def run_case(device, case, path, backend='default'):
    """Run one case; return {name: relative error} for the output and
    every gradient (``x`` and the parameters that train)."""
    b, h, w, c, heads, group, interval, mode = CASES[case]
    attn = make_attention(case)
    attn = attn.to(device).train(path in ('train', 'frozen-dpb'))
    if path == 'frozen-dpb':
        attn.dpb.requires_grad_(False)
    x = torch.randn(b, h, w, c, device=device)
    weight = torch.randn(b, h, w, c, device=device)
    x.requires_grad_(path in ('train', 'frozen-dpb'))

    params = {
        name: p.detach().cpu().double().requires_grad_(p.requires_grad)
        for name, p in attn.named_parameters()
    }
    x_ref = x.detach().cpu().double().requires_grad_(x.requires_grad)
    expected = reference_lsda(x_ref, params, heads, group, interval, mode)

    grad_mode = dict(
        train=torch.enable_grad, **{'frozen-dpb': torch.enable_grad},
        **{'no-grad': torch.no_grad, 'inference-mode': torch.inference_mode})
    with full_fp32(), _sdpa_backend(device, backend), grad_mode[path]():
        try:
            out = attn(x)
            if x.requires_grad:
                (out * weight).sum().backward()
        except RuntimeError as err:
            if backend != 'default' and 'kernel' in str(err).lower():
                pytest.skip(f'SDPA backend {backend} cannot run this '
                            f'case: {str(err).splitlines()[0]}')
            raise
    assert out.device.type == device and out.dtype == torch.float32
    errors = {'out': max_rel_error(out, expected)}
    if not x.requires_grad:
        return errors
    (expected * weight.cpu().double()).sum().backward()
    errors['grad x'] = max_rel_error(x.grad, x_ref.grad)
    for name, p in attn.named_parameters():
        if not p.requires_grad:
            assert p.grad is None, name
            continue
        assert p.grad is not None, f'{name} got no gradient'
        errors[f'grad {name}'] = max_rel_error(p.grad, params[name].grad)
    return errors


def _check(errors, path):
    bad = {
        k: v
        for k, v in errors.items()
        if not v <= (TOL_DPB if k.startswith('grad dpb.') else TOL)
    }
    assert not bad, (f'relative errors above {TOL} ({TOL_DPB} for DPB '
                     f'gradients): {bad}')
    if path == 'train':  # the DPB is trained on this path
        assert sum(k.startswith('grad dpb.') for k in errors) == 14


@pytest.mark.parametrize('path', PATHS)
@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('device', DEVICES)
def test_attention_matches_definition(device, case, path):
    _check(run_case(device, case, path), path)


@pytest.mark.parametrize('path', ['train', 'no-grad'])
@pytest.mark.parametrize('case', sorted(CASES))
@pytest.mark.parametrize('backend', sorted(BACKENDS))
@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason=NO_CUDA)
def test_each_cuda_sdpa_backend_matches_definition(backend, case, path):
    _check(run_case('cuda', case, path, backend), path)


def test_reference_is_not_trivially_equal():
    """The comparison can fail: an attention without the DPB bias, or with
    one more key visible, is far from the reference."""
    b, h, w, c, heads, group, interval, mode = CASES['lda-padded']
    attn = make_attention('lda-padded').eval()
    x = torch.randn(b, h, w, c)
    params = {n: p.detach().double() for n, p in attn.named_parameters()}
    expected = reference_lsda(x.double(), params, heads, group, interval,
                              mode)
    with torch.no_grad():
        assert max_rel_error(attn(x), expected) <= TOL
        no_bias = dict(params)
        no_bias['dpb.pos3.2.weight'] = torch.zeros_like(
            params['dpb.pos3.2.weight'])
        no_bias['dpb.pos3.2.bias'] = torch.zeros_like(
            params['dpb.pos3.2.bias'])
        assert max_rel_error(
            attn(x),
            reference_lsda(x.double(), no_bias, heads, group, interval,
                           mode)) > 100 * TOL
        # SDA groups instead of LDA groups
        assert max_rel_error(
            attn(x),
            reference_lsda(x.double(), params, heads, group, interval,
                           'sda')) > 100 * TOL
