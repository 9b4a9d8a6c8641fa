"""prism.nn attention layers: MultiheadAttention and TransformerEncoderLayer (torch.nn's spelling and state dicts)."""
import math

import prism
from prism.nn import functional as F
from prism.nn import init
from prism.nn.modules.layers import Dropout, LayerNorm, Linear, _factory
from prism.nn.modules.module import Module
from prism.nn.parameter import Parameter

__all__ = ["MultiheadAttention", "TransformerEncoderLayer"]


def _additive(mask, dtype):
    """A bool mask (True = not allowed) as 0 / -inf; a float mask as it is."""
    if mask.dtype == prism.bool:
        return prism.zeros(tuple(mask.shape), dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))
    return mask.to(dtype)


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention with kdim = vdim = embed_dim (no bias_k / add_zero_attn).

    Parameters in_proj_weight (3E, E), in_proj_bias (3E) and out_proj, initialised as torch does. Bool masks
    mark the positions that may NOT attend; float masks are added. forward returns (output, weights); the
    weights (after dropout, averaged over the heads unless average_attn_weights=False) are None without
    need_weights, in which case the heads run through F.scaled_dot_product_attention.
    """

    def __init__(self, embed_dim, num_heads, dropout=0.0, bias=True, add_bias_kv=False, add_zero_attn=False,
                 kdim=None, vdim=None, batch_first=False, device=None, dtype=None):
        super().__init__()
        if add_bias_kv or add_zero_attn or (kdim not in (None, embed_dim)) or (vdim not in (None, embed_dim)):
            raise NotImplementedError("MultiheadAttention: add_bias_kv, add_zero_attn and kdim/vdim other than "
                                      "embed_dim are not supported")
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        self.embed_dim, self.num_heads, self.dropout, self.batch_first = embed_dim, num_heads, dropout, batch_first
        self.head_dim = embed_dim // num_heads
        f = _factory(device, dtype)
        self.in_proj_weight = Parameter(prism.empty((3 * embed_dim, embed_dim), **f))
        if bias:
            self.in_proj_bias = Parameter(prism.empty((3 * embed_dim,), **f))
        else:
            self.register_parameter("in_proj_bias", None)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, device=device, dtype=dtype)
        init.xavier_uniform_(self.in_proj_weight)
        if bias:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def _mask(self, attn_mask, key_padding_mask, batched, N, L, S, dtype):
        m = None
        if attn_mask is not None:
            a = _additive(attn_mask, dtype)
            if a.dim() == 2:
                if tuple(a.shape) != (L, S):
                    raise RuntimeError(f"The shape of the 2D attn_mask is {tuple(a.shape)}, but should be {(L, S)}.")
            elif a.dim() == 3:
                if tuple(a.shape) != (N * self.num_heads, L, S):
                    raise RuntimeError(f"The shape of the 3D attn_mask is {tuple(a.shape)}, but should be "
                                       f"{(N * self.num_heads, L, S)}.")
                a = a.reshape(N, self.num_heads, L, S)
            else:
                raise RuntimeError(f"attn_mask's dimension {a.dim()} is not supported")
            m = a
        if key_padding_mask is not None:
            k = _additive(key_padding_mask, dtype)
            want = (N, S) if batched else (S,)
            if tuple(k.shape) != want:
                raise RuntimeError(f"expected key_padding_mask of shape {want}, got {tuple(k.shape)}")
            k = k.reshape(N, 1, 1, S)
            m = k if m is None else m + k
        return m

    def forward(self, query, key, value, key_padding_mask=None, need_weights=True, attn_mask=None,
                average_attn_weights=True):
        batched = query.dim() == 3
        if not batched and query.dim() != 2:
            raise ValueError(f"query should be unbatched 2D or batched 3D tensor but received {query.dim()}-D")

        def to_nle(t):
            if not batched:
                return t.unsqueeze(0)
            return t if self.batch_first else t.transpose(0, 1)

        q, k, v = to_nle(query), to_nle(key), to_nle(value)
        E, H, hd = self.embed_dim, self.num_heads, self.head_dim
        N, L, S = q.shape[0], q.shape[1], k.shape[1]

        def proj(t, i):
            w = self.in_proj_weight.narrow(0, i * E, E)
            b = None if self.in_proj_bias is None else self.in_proj_bias.narrow(0, i * E, E)
            return F.linear(t, w, b).reshape(N, -1, H, hd).transpose(1, 2)

        qh, kh, vh = proj(q, 0), proj(k, 1), proj(v, 2)
        mask = self._mask(attn_mask, key_padding_mask, batched, N, L, S, qh.dtype)
        p = self.dropout if self.training else 0.0
        weights = None
        if need_weights:
            scores = (qh * (1.0 / math.sqrt(hd))).matmul(kh.transpose(-2, -1))
            if mask is not None:
                scores = scores + mask
            weights = F.dropout(F.softmax(scores, dim=-1), p, training=p > 0)
            o = weights.matmul(vh)
            if average_attn_weights:
                weights = weights.mean(dim=1)
            if not batched:
                weights = weights.squeeze(0)
        else:
            o = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=mask, dropout_p=p)
        o = self.out_proj(o.transpose(1, 2).reshape(N, L, E))
        if not batched:
            o = o.squeeze(0)
        elif not self.batch_first:
            o = o.transpose(0, 1)
        return o, weights


class TransformerEncoderLayer(Module):
    """torch.nn.TransformerEncoderLayer: self-attention + feed-forward, pre- or post-norm (norm_first)."""

    def __init__(self, d_model, nhead, dim_feedforward=2048, dropout=0.1, activation="relu", layer_norm_eps=1e-5,
                 batch_first=False, norm_first=False, device=None, dtype=None):
        super().__init__()
        if isinstance(activation, str):
            if activation not in ("relu", "gelu"):
                raise RuntimeError(f"activation should be relu/gelu, not {activation}")
            activation = F.relu if activation == "relu" else F.gelu
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, batch_first=batch_first, device=device,
                                            dtype=dtype)
        self.linear1 = Linear(d_model, dim_feedforward, device=device, dtype=dtype)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, device=device, dtype=dtype)
        self.norm_first = norm_first
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, device=device, dtype=dtype)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, device=device, dtype=dtype)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = activation
        self.batch_first = batch_first

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal=False):
        if is_causal and src_mask is None:
            L = src.shape[1] if (src.dim() == 3 and self.batch_first) else src.shape[0]
            src_mask = generate_square_subsequent_mask(L, dtype=src.dtype, device=src.device)
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask))
            x = self.norm2(x + self._ff_block(x))
        return x

    def _sa_block(self, x, attn_mask, key_padding_mask):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        x = self.linear2(self.dropout(self.activation(self.linear1(x))))
        return self.dropout2(x)


def generate_square_subsequent_mask(sz, device=None, dtype=None):
    """A float (sz, sz) mask: -inf above the diagonal, 0 elsewhere (nn.Transformer.generate_square_subsequent_mask)."""
    return prism.full((sz, sz), float("-inf"), dtype=dtype or prism.float32, device=device or "cpu").triu(1)
