//! A BERT encoder's forward pass (the architecture of MiniLM, BGE and E5 sentence encoders) on
//! plain row-major `f32` buffers; the matrix products go through [`crate::matmul`].
//!
//! Sequences are stacked, not padded: the matrix products run over all their rows together and
//! attention runs within each sequence, so no attention mask is needed. Callers that embed many
//! texts run them on several threads ([`crate::Encoder::embed_many`]).

use safetensors::{Dtype, SafeTensors};
use serde::Deserialize;

use crate::LoadError;
use crate::matmul::Packed;

/// The fields of a Hugging Face BERT `config.json` the forward pass needs.
#[derive(Debug, Clone, Deserialize)]
pub struct BertConfig {
    /// Width of every token's vector.
    pub hidden_size: usize,
    /// Transformer layers.
    pub num_hidden_layers: usize,
    /// Attention heads per layer (they split `hidden_size`).
    pub num_attention_heads: usize,
    /// Width of the feed-forward layer.
    pub intermediate_size: usize,
    /// Longest sequence the position embeddings cover.
    pub max_position_embeddings: usize,
    /// Epsilon of every layer norm.
    #[serde(default = "default_layer_norm_eps")]
    pub layer_norm_eps: f32,
    /// The activation; only `gelu` (exact) is supported.
    #[serde(default = "default_activation")]
    pub hidden_act: String,
}

fn default_layer_norm_eps() -> f32 {
    1e-12
}

fn default_activation() -> String {
    "gelu".to_owned()
}

#[derive(Debug)]
struct LayerNorm {
    weight: Vec<f32>,
    bias: Vec<f32>,
    epsilon: f32,
}

impl LayerNorm {
    fn forward_in_place(&self, values: &mut [f32]) {
        for row in values.chunks_exact_mut(self.weight.len()) {
            let count = row.len() as f32;
            let mean = row.iter().sum::<f32>() / count;
            let variance = row.iter().map(|value| (value - mean).powi(2)).sum::<f32>() / count;
            let scale = 1.0 / (variance + self.epsilon).sqrt();
            for ((value, weight), bias) in row.iter_mut().zip(&self.weight).zip(&self.bias) {
                *value = (*value - mean) * scale * weight + bias;
            }
        }
    }
}

#[derive(Debug)]
struct Layer {
    /// Query, key and value projections fused into one `[3 * hidden, hidden]` product.
    qkv: Packed,
    attention_output: Packed,
    attention_norm: LayerNorm,
    intermediate: Packed,
    output: Packed,
    output_norm: LayerNorm,
}

/// The loaded weights.
pub struct Bert {
    config: BertConfig,
    /// `[vocabulary, hidden]`, 8-bit (see [`WordTable`]).
    word_embeddings: WordTable,
    /// `[positions, hidden]`.
    position_embeddings: Vec<f32>,
    token_type_embedding: Vec<f32>,
    embedding_norm: LayerNorm,
    layers: Vec<Layer>,
}

impl std::fmt::Debug for Bert {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Bert")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Bert {
    /// Build the model from a safetensors file's bytes. Tensor names may carry any prefix
    /// (`bert.`, `0.auto_model.`): it is found from the word embeddings' name.
    pub fn from_safetensors(config: BertConfig, bytes: &[u8]) -> Result<Bert, LoadError> {
        if config.hidden_act != "gelu" {
            return Err(LoadError::Unsupported(format!(
                "activation `{}` (only `gelu` is supported)",
                config.hidden_act
            )));
        }
        if config.num_attention_heads == 0
            || !config
                .hidden_size
                .is_multiple_of(config.num_attention_heads)
        {
            return Err(LoadError::Unsupported(format!(
                "{} attention heads for a hidden size of {}",
                config.num_attention_heads, config.hidden_size
            )));
        }
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|error| LoadError::Weights(error.to_string()))?;
        let weights = Weights::new(&tensors)?;
        let hidden = config.hidden_size;
        let norm = |name: &str| -> Result<LayerNorm, LoadError> {
            Ok(LayerNorm {
                weight: weights.vector(&format!("{name}.weight"), hidden)?,
                bias: weights.vector(&format!("{name}.bias"), hidden)?,
                epsilon: config.layer_norm_eps,
            })
        };
        let linear =
            |names: &[String], outputs: usize, inputs: usize| -> Result<Packed, LoadError> {
                let mut weight = Vec::with_capacity(names.len() * outputs * inputs);
                let mut bias = Vec::with_capacity(names.len() * outputs);
                for name in names {
                    weight.extend(weights.matrix(&format!("{name}.weight"), outputs, inputs)?);
                    bias.extend(weights.vector(&format!("{name}.bias"), outputs)?);
                }
                Ok(Packed::new(&weight, bias, names.len() * outputs, inputs))
            };
        let mut layers = Vec::with_capacity(config.num_hidden_layers);
        for index in 0..config.num_hidden_layers {
            let prefix = format!("encoder.layer.{index}");
            let qkv =
                ["query", "key", "value"].map(|part| format!("{prefix}.attention.self.{part}"));
            layers.push(Layer {
                qkv: linear(&qkv, hidden, hidden)?,
                attention_output: linear(
                    &[format!("{prefix}.attention.output.dense")],
                    hidden,
                    hidden,
                )?,
                attention_norm: norm(&format!("{prefix}.attention.output.LayerNorm"))?,
                intermediate: linear(
                    &[format!("{prefix}.intermediate.dense")],
                    config.intermediate_size,
                    hidden,
                )?,
                output: linear(
                    &[format!("{prefix}.output.dense")],
                    hidden,
                    config.intermediate_size,
                )?,
                output_norm: norm(&format!("{prefix}.output.LayerNorm"))?,
            });
        }
        let word_embeddings = WordTable::new(
            &weights.rows("embeddings.word_embeddings.weight", hidden)?,
            hidden,
        );
        let position_embeddings = weights.matrix(
            "embeddings.position_embeddings.weight",
            config.max_position_embeddings,
            hidden,
        )?;
        let token_types = weights.rows("embeddings.token_type_embeddings.weight", hidden)?;
        Ok(Bert {
            embedding_norm: norm("embeddings.LayerNorm")?,
            word_embeddings,
            position_embeddings,
            token_type_embedding: token_types[..hidden].to_vec(),
            layers,
            config,
        })
    }

    /// The vector width.
    pub fn hidden_size(&self) -> usize {
        self.config.hidden_size
    }

    /// Rows of the word-embedding table (the vocabulary size the weights expect).
    pub fn vocabulary_size(&self) -> usize {
        self.word_embeddings.rows()
    }

    /// The longest sequence the model takes.
    pub fn max_positions(&self) -> usize {
        self.config.max_position_embeddings
    }

    /// Every token's final hidden state, `tokens × hidden` row-major, of each sequence, the
    /// sequences one after another. Ids must be below [`Bert::vocabulary_size`] and each
    /// sequence at most [`Bert::max_positions`] long (the encoder checks). The sequences share
    /// every matrix product (one pass over the weights for all their rows); attention stays
    /// within each. With `split`, large matrix products use a second thread.
    pub fn forward(&self, sequences: &[Vec<u32>], split: bool) -> Vec<f32> {
        let hidden = self.config.hidden_size;
        let tokens: usize = sequences.iter().map(Vec::len).sum();
        let mut states = vec![0.0f32; tokens * hidden];
        let positions = sequences.iter().flat_map(|ids| ids.iter().enumerate());
        for (row, (position, &id)) in states.chunks_exact_mut(hidden).zip(positions) {
            self.word_embeddings.row_into(id as usize, row);
            let place = &self.position_embeddings[position * hidden..(position + 1) * hidden];
            for (index, value) in row.iter_mut().enumerate() {
                *value += place[index] + self.token_type_embedding[index];
            }
        }
        self.embedding_norm.forward_in_place(&mut states);
        let lengths: Vec<usize> = sequences.iter().map(Vec::len).collect();
        for layer in &self.layers {
            self.layer_forward(layer, &mut states, &lengths, split);
        }
        states
    }

    fn layer_forward(&self, layer: &Layer, states: &mut [f32], lengths: &[usize], split: bool) {
        let hidden = self.config.hidden_size;
        let heads = self.config.num_attention_heads;
        let tokens: usize = lengths.iter().sum();
        let qkv = layer.qkv.forward(states, tokens, split);
        let mut context = Vec::with_capacity(tokens * hidden);
        let mut first = 0;
        for &length in lengths {
            let rows = &qkv[first * 3 * hidden..(first + length) * 3 * hidden];
            context.extend(attention(rows, length, hidden, heads));
            first += length;
        }
        let attention = layer.attention_output.forward(&context, tokens, split);
        for (state, value) in states.iter_mut().zip(&attention) {
            *state += value;
        }
        layer.attention_norm.forward_in_place(states);
        let mut intermediate = layer.intermediate.forward(states, tokens, split);
        for value in &mut intermediate {
            *value = gelu(*value);
        }
        let output = layer.output.forward(&intermediate, tokens, split);
        for (state, value) in states.iter_mut().zip(&output) {
            *state += value;
        }
        layer.output_norm.forward_in_place(states);
    }
}

/// Scaled dot-product attention of every head over the fused `[tokens, 3 * hidden]` query, key
/// and value rows: the context, `[tokens, hidden]`. Compiled for AVX-512 and AVX2 besides the
/// baseline, like the matrix product.
#[multiversion::multiversion(targets(
    "x86_64+avx512f+avx2+fma",
    "x86_64+avx2+fma",
    "aarch64+neon"
))]
fn attention(qkv: &[f32], tokens: usize, hidden: usize, heads: usize) -> Vec<f32> {
    let head_size = hidden / heads;
    let scale = 1.0 / (head_size as f32).sqrt();
    let width = 3 * hidden;
    let mut context = vec![0.0f32; tokens * hidden];
    let mut scores = vec![0.0f32; tokens];
    for head in 0..heads {
        let offset = head * head_size;
        for query in 0..tokens {
            let q = &qkv[query * width + offset..query * width + offset + head_size];
            for (key, score) in scores.iter_mut().enumerate() {
                let start = key * width + hidden + offset;
                let k = &qkv[start..start + head_size];
                *score = q.iter().zip(k).map(|(a, b)| a * b).sum::<f32>();
            }
            softmax_in_place(Some(&mut scores), scale);
            let out = &mut context[query * hidden + offset..query * hidden + offset + head_size];
            for (key, weight) in scores.iter().enumerate() {
                let start = key * width + 2 * hidden + offset;
                for (value, v) in out.iter_mut().zip(&qkv[start..start + head_size]) {
                    *value += weight * v;
                }
            }
        }
    }
    context
}

/// Softmax of `scale * row`, in place. A row that is not contiguous is left as is (never the
/// case: `scores` is freshly allocated in standard layout).
fn softmax_in_place(row: Option<&mut [f32]>, scale: f32) {
    let Some(row) = row else { return };
    let max = row
        .iter()
        .fold(f32::NEG_INFINITY, |max, value| max.max(*value))
        * scale;
    let mut sum = 0.0;
    for value in row.iter_mut() {
        *value = (*value * scale - max).exp();
        sum += *value;
    }
    for value in row.iter_mut() {
        *value /= sum;
    }
}

/// BERT's exact GELU, `x * Φ(x)`, with `erf` from Abramowitz and Stegun 7.1.26 (error below
/// 1.5e-7, far under what f32 sentence embeddings can see).
fn gelu(value: f32) -> f32 {
    0.5 * value * (1.0 + erf(value / std::f32::consts::SQRT_2))
}

fn erf(value: f32) -> f32 {
    let sign = value.signum();
    let x = value.abs();
    let t = 1.0 / (1.0 + 0.327_591_1 * x);
    let polynomial = t
        * (0.254_829_6
            + t * (-0.284_496_74 + t * (1.421_413_7 + t * (-1.453_152_1 + t * 1.061_405_4))));
    sign * (1.0 - polynomial * (-x * x).exp())
}

/// The word-embedding table with each row stored as 8-bit integers and one scale (its largest
/// magnitude over 127): 12 MB instead of 47 MB for a 30k-token vocabulary at 384 dimensions,
/// the largest part of the model. A query or document only reads the rows of its own tokens, and
/// the rounding (at most half a step, 0.4% of the row's largest value) disappears in the layer
/// norm that follows; the transformer layers' weights are already 8-bit for the same reason.
struct WordTable {
    values: Vec<i8>,
    scales: Vec<f32>,
    width: usize,
}

impl WordTable {
    fn new(rows: &[f32], width: usize) -> WordTable {
        let mut values = Vec::with_capacity(rows.len());
        let mut scales = Vec::with_capacity(rows.len() / width.max(1));
        for row in rows.chunks_exact(width) {
            let largest = row
                .iter()
                .fold(0.0f32, |largest, value| largest.max(value.abs()));
            let scale = if largest > 0.0 { largest / 127.0 } else { 1.0 };
            scales.push(scale);
            values.extend(
                row.iter()
                    .map(|value| (value / scale).round().clamp(-127.0, 127.0) as i8),
            );
        }
        WordTable {
            values,
            scales,
            width,
        }
    }

    fn rows(&self) -> usize {
        self.scales.len()
    }

    /// Row `id`, dequantized into `row` (which is `width` long). Ids are checked against the
    /// vocabulary before a forward pass; an id out of range leaves the row at zero.
    fn row_into(&self, id: usize, row: &mut [f32]) {
        let (Some(scale), Some(values)) = (
            self.scales.get(id),
            self.values.get(id * self.width..(id + 1) * self.width),
        ) else {
            return;
        };
        for (out, value) in row.iter_mut().zip(values) {
            *out = f32::from(*value) * scale;
        }
    }
}

/// Tensors of a safetensors file, by name without the checkpoint's prefix, converted to f32.
struct Weights<'data> {
    tensors: &'data SafeTensors<'data>,
    prefix: String,
}

impl<'data> Weights<'data> {
    fn new(tensors: &'data SafeTensors<'data>) -> Result<Self, LoadError> {
        const ANCHOR: &str = "embeddings.word_embeddings.weight";
        let prefix = tensors
            .names()
            .into_iter()
            .find_map(|name| name.strip_suffix(ANCHOR).map(str::to_owned))
            .ok_or_else(|| LoadError::Weights(format!("no tensor named `{ANCHOR}`")))?;
        Ok(Weights { tensors, prefix })
    }

    fn values(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>), LoadError> {
        let full = format!("{}{name}", self.prefix);
        let tensor = self
            .tensors
            .tensor(&full)
            .map_err(|_| LoadError::Weights(format!("no tensor named `{full}`")))?;
        let data = tensor.data();
        let values = match tensor.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|bytes| f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|bytes| half::f16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|bytes| half::bf16::from_le_bytes([bytes[0], bytes[1]]).to_f32())
                .collect(),
            other => {
                return Err(LoadError::Weights(format!(
                    "tensor `{full}` has type {other:?}; only F32, F16 and BF16 are supported"
                )));
            }
        };
        Ok((tensor.shape().to_vec(), values))
    }

    fn vector(&self, name: &str, length: usize) -> Result<Vec<f32>, LoadError> {
        let (shape, values) = self.values(name)?;
        if shape != [length] {
            return Err(shape_error(name, &shape, &[length]));
        }
        Ok(values)
    }

    fn matrix(&self, name: &str, rows: usize, columns: usize) -> Result<Vec<f32>, LoadError> {
        let (shape, values) = self.values(name)?;
        if shape != [rows, columns] {
            return Err(shape_error(name, &shape, &[rows, columns]));
        }
        Ok(values)
    }

    /// A matrix of any number of rows of `columns` values.
    fn rows(&self, name: &str, columns: usize) -> Result<Vec<f32>, LoadError> {
        let (shape, values) = self.values(name)?;
        match shape.as_slice() {
            [rows, found] if *found == columns && *rows > 0 => Ok(values),
            _ => Err(shape_error(name, &shape, &[0, columns])),
        }
    }
}

fn shape_error(name: &str, found: &[usize], expected: &[usize]) -> LoadError {
    LoadError::Weights(format!(
        "tensor `{name}` has shape {found:?}, expected {expected:?} (0 = any) for this config"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn erf_matches_known_values() {
        for (x, expected) in [
            (0.0, 0.0),
            (0.5, 0.520_499_9),
            (1.0, 0.842_700_8),
            (-2.0, -0.995_322_3),
        ] {
            assert!((erf(x) - expected).abs() < 1e-6, "erf({x}) = {}", erf(x));
        }
        assert!((gelu(1.0) - 0.841_344_7).abs() < 1e-6);
    }

    #[test]
    fn word_rows_come_back_within_half_a_step() {
        let rows = [0.5, -1.27, 0.003, 0.0, 0.0, 0.0, -0.02, 0.01, 0.0];
        let table = WordTable::new(&rows, 3);
        assert_eq!(table.rows(), 3);
        for (id, original) in rows.chunks_exact(3).enumerate() {
            let mut row = [9.0f32; 3];
            table.row_into(id, &mut row);
            let step = original.iter().fold(0.0f32, |m, v| m.max(v.abs())) / 127.0;
            for (back, value) in row.iter().zip(original) {
                assert!(
                    (back - value).abs() <= step / 2.0 + 1e-7,
                    "{back} vs {value}"
                );
            }
        }
        // A row of zeros stays zero; an id past the table leaves the row untouched.
        let mut row = [9.0f32; 3];
        table.row_into(1, &mut row);
        assert_eq!(row, [0.0; 3]);
        table.row_into(3, &mut row);
        assert_eq!(row, [0.0; 3]);
    }

    #[test]
    fn softmax_sums_to_one_and_keeps_order() {
        let mut row = [1.0, 2.0, 3.0];
        softmax_in_place(Some(&mut row), 1.0);
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        assert!(row[0] < row[1] && row[1] < row[2]);
    }
}
