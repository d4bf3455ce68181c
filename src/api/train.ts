// socratic-distill/train: the trainer (AdamW, warmup/cosine, exact resume) and the students' text formats.
export * from '../train/index.js';
export * from '../format/index.js';
export { tokenizerForTexts, trainingTexts, trainModel, StudentManifestSchema, type StudentManifest } from '../students/common.js';
