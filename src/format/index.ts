export * from './markers.js';
export * from './pairs.js';
export * from './trl.js';
