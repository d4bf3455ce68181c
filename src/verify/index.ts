export { ChainVerifier, chainFinalAnswer, type ChainVerifierOptions, type RejectReason, type VerifyResult, type VerifyStats } from './verifier.js';
export { ANSWER_TOLERANCE, answersMatch, extractAnswer, findNumbers, normalizeAnswer, parseBoolean, parseNumber, type ExtractMode } from './answer.js';
export { arithmeticClaims, noteClaims, textClaims, type ArithmeticClaim } from './arithmetic.js';
export { evaluateExpression, tryEvaluate } from './expr.js';
