export { DEMO_PRESETS, type DemoConfig } from './config.js';
export { runDemo, syntheticSplit, type DemoEvent, type DemoResult, type DemoRunOptions, type DemoSource } from './pipeline.js';
