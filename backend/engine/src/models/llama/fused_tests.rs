//! Each fused pass against the composition of candle ops it replaces: the same values forward,
//! the same gradient backward (through a random weighting of the output, so every output
//! element's gradient differs).

use super::*;
use crate::models::testing::{max_abs_diff, rand_tensor};
use candle_core::{Var, D};

/// `x` as a variable of `shape`, its gradient after backward through `op`, and `op`'s output.
fn output_and_gradient(
    x: &Tensor,
    op: impl Fn(&Tensor) -> Tensor,
    weighting: &Tensor,
) -> (Tensor, Tensor) {
    let var = Var::from_tensor(x).unwrap();
    let out = op(var.as_tensor());
    let loss = (&out * weighting).unwrap().sum_all().unwrap();
    let grads = loss.backward().unwrap();
    (out, grads.get(var.as_tensor()).unwrap().clone())
}

fn assert_same(fused: (Tensor, Tensor), composed: (Tensor, Tensor), what: &str) {
    let forward = max_abs_diff(&fused.0, &composed.0);
    let backward = max_abs_diff(&fused.1, &composed.1);
    assert!(forward < 1e-5, "{what}: outputs differ by {forward}");
    assert!(backward < 1e-5, "{what}: gradients differ by {backward}");
}

fn random(dims: &[usize], seed: u64) -> Tensor {
    let n = dims.iter().product();
    rand_tensor((n, 1), seed).reshape(dims).unwrap()
}

#[test]
fn rms_norm_matches_the_composed_ops_and_their_gradient() {
    let x = (random(&[3, 5, 24], 1) * 3.0).unwrap();
    let weight = (random(&[24], 2) + 1.0).unwrap();
    let weighting = random(&[3, 5, 24], 3);
    let eps = 1e-5;
    let fused = output_and_gradient(&x, |x| rms_norm(x, &weight, eps).unwrap(), &weighting);
    let composed = output_and_gradient(
        &x,
        |x| candle_nn::ops::rms_norm_slow(x, &weight, eps as f32).unwrap(),
        &weighting,
    );
    assert_same(fused, composed, "rms norm");
    // A strided input is read in its logical order.
    let t = x.transpose(0, 1).unwrap();
    let strided = max_abs_diff(
        &rms_norm(&t, &weight, eps).unwrap(),
        &candle_nn::ops::rms_norm_slow(&t, &weight, eps as f32).unwrap(),
    );
    assert!(strided < 1e-5, "{strided}");
    // A weight of another length is refused, not read as rows of its length.
    let err = rms_norm(&x, &weight.narrow(0, 0, 12).unwrap(), eps).unwrap_err();
    assert!(
        err.to_string()
            .contains("last dimension is 24, the weight's 12"),
        "{err}"
    );
}

#[test]
fn softmax_matches_the_composed_ops_and_their_gradient() {
    // Large scores and a masked position (−∞), as attention gives them.
    let mut x = (random(&[2, 3, 4, 9], 4) * 20.0).unwrap();
    let mask: Vec<f32> = (0..9)
        .map(|i| if i == 8 { f32::NEG_INFINITY } else { 0.0 })
        .collect();
    x = x
        .broadcast_add(&Tensor::new(mask.as_slice(), x.device()).unwrap())
        .unwrap();
    let weighting = random(&[2, 3, 4, 9], 5);
    let fused = output_and_gradient(&x, |x| softmax(x).unwrap(), &weighting);
    let composed = output_and_gradient(
        &x,
        |x| candle_nn::ops::softmax(x, D::Minus1).unwrap(),
        &weighting,
    );
    let masked = fused.0.narrow(3, 8, 1).unwrap();
    assert_eq!(
        masked
            .abs()
            .unwrap()
            .sum_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap(),
        0.0
    );
    assert_same(fused, composed, "softmax");
}

#[test]
fn rope_matches_rotate_half_and_its_gradient() {
    let (b, h, t, d) = (2, 3, 5, 8);
    let x = random(&[b, h, t, d], 6);
    let cos = random(&[b, t, d / 2], 7);
    let sin = random(&[b, t, d / 2], 8);
    let weighting = random(&[b, h, t, d], 9);
    let fused = output_and_gradient(&x, |x| rope(x, &cos, &sin).unwrap(), &weighting);
    let composed = output_and_gradient(
        &x,
        |x| {
            let cos = Tensor::cat(&[&cos, &cos], D::Minus1)
                .unwrap()
                .unsqueeze(1)
                .unwrap();
            let sin = Tensor::cat(&[&sin, &sin], D::Minus1)
                .unwrap()
                .unsqueeze(1)
                .unwrap();
            let x1 = x.narrow(D::Minus1, 0, d / 2).unwrap();
            let x2 = x.narrow(D::Minus1, d / 2, d / 2).unwrap();
            let rotated = Tensor::cat(&[&x2.neg().unwrap(), &x1], D::Minus1).unwrap();
            (x.broadcast_mul(&cos).unwrap() + rotated.broadcast_mul(&sin).unwrap()).unwrap()
        },
        &weighting,
    );
    assert_same(fused, composed, "rope");
    // The inference kernel agrees too, on a strided input (queries come transposed).
    let q = random(&[b, t, h, d], 10).transpose(1, 2).unwrap();
    let inference = candle_nn::rotary_emb::rope(&q.contiguous().unwrap(), &cos, &sin).unwrap();
    let diff = max_abs_diff(&rope(&q, &cos, &sin).unwrap(), &inference);
    assert!(diff < 1e-6, "{diff}");
    // Tables of the wrong size are refused, not read past.
    let short = random(&[b, t - 1, d / 2], 11);
    assert!(rope(&x, &short, &short).is_err());
}

#[test]
fn silu_mul_matches_candle_exactly_and_its_gradients() {
    let gate = (random(&[2, 7, 40], 12) * 6.0).unwrap();
    let up = random(&[2, 7, 40], 13);
    let weighting = random(&[2, 7, 40], 14);
    // Forward: the same numbers as candle's silu then mul, bit for bit.
    let fused = silu_mul(&gate, &up).unwrap();
    let candle = (candle_nn::ops::silu(&gate).unwrap() * &up).unwrap();
    assert_eq!(max_abs_diff(&fused, &candle), 0.0);
    // Backward, for both inputs.
    let (g, u) = (
        Var::from_tensor(&gate).unwrap(),
        Var::from_tensor(&up).unwrap(),
    );
    let gradients = |out: Tensor| {
        let grads = (&out * &weighting)
            .unwrap()
            .sum_all()
            .unwrap()
            .backward()
            .unwrap();
        let of = |v: &Var| grads.get(v.as_tensor()).unwrap().clone();
        (of(&g), of(&u))
    };
    let fused = gradients(silu_mul(g.as_tensor(), u.as_tensor()).unwrap());
    let composed =
        gradients((candle_nn::ops::silu(g.as_tensor()).unwrap() * u.as_tensor()).unwrap());
    for (f, c, what) in [
        (&fused.0, &composed.0, "gate"),
        (&fused.1, &composed.1, "up"),
    ] {
        let diff = max_abs_diff(f, c);
        assert!(diff < 1e-5, "d/d{what} differs by {diff}");
    }
    assert!(silu_mul(&gate, &up.narrow(2, 0, 20).unwrap()).is_err());
}
