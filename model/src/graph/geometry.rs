//! Window geometry of 2-D convolution and pooling (NCHW), shared by every executor.

use serde::{Deserialize, Serialize};

/// Strides, zero padding and dilations of a 2-D window op.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// Kernel height and width.
    pub kernel: [usize; 2],
    pub strides: [usize; 2],
    /// Padding as ONNX orders it: top, left, bottom, right.
    pub pads: [usize; 4],
    pub dilations: [usize; 2],
}

impl Window {
    /// Output height and width for an input of `h`×`w` (floor mode), or `None` if the window does not fit.
    pub fn output_hw(&self, h: usize, w: usize) -> Option<[usize; 2]> {
        let dim = |size: usize, pad: usize, k: usize, d: usize, s: usize| {
            let span = (k - 1) * d + 1;
            let padded = size + pad;
            (padded >= span && s > 0).then(|| (padded - span) / s + 1)
        };
        Some([
            dim(
                h,
                self.pads[0] + self.pads[2],
                self.kernel[0],
                self.dilations[0],
                self.strides[0],
            )?,
            dim(
                w,
                self.pads[1] + self.pads[3],
                self.kernel[1],
                self.dilations[1],
                self.strides[1],
            )?,
        ])
    }

    /// Input coordinates (y, x) covered by the window at output position (oy, ox);
    /// `None` marks a padding position.
    pub fn taps(
        &self,
        oy: usize,
        ox: usize,
        h: usize,
        w: usize,
    ) -> impl Iterator<Item = Option<(usize, usize)>> + '_ {
        let y0 = (oy * self.strides[0]) as isize - self.pads[0] as isize;
        let x0 = (ox * self.strides[1]) as isize - self.pads[1] as isize;
        (0..self.kernel[0]).flat_map(move |ky| {
            (0..self.kernel[1]).map(move |kx| {
                let y = y0 + (ky * self.dilations[0]) as isize;
                let x = x0 + (kx * self.dilations[1]) as isize;
                (y >= 0 && x >= 0 && (y as usize) < h && (x as usize) < w)
                    .then_some((y as usize, x as usize))
            })
        })
    }

    pub fn kernel_size(&self) -> usize {
        self.kernel[0] * self.kernel[1]
    }
}
