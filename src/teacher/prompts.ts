import type { DatasetName, Problem } from '../data/schema.js';

/**
 * Versioned few-shot prompts. Exemplars come from human annotations: GSM8K
 * socratic train rows 1–2 (subquestions as written), StrategyQA decompositions
 * answered with their annotated facts, SVAMP equations split into steps.
 * Bump the version whenever a prompt changes, since it is recorded in every chain.
 */
export interface Exemplar {
  question: string;
  context?: string;
  steps: { q: string; a: string }[];
  answer: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

const GSM8K: Exemplar[] = [
  {
    question: 'Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?',
    steps: [
      { q: 'How many clips did Natalia sell in May?', a: 'Natalia sold 48/2 = <<48/2=24>>24 clips in May.' },
      { q: 'How many clips did Natalia sell altogether in April and May?', a: 'Natalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.' },
    ],
    answer: '72',
  },
  {
    question: 'Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. How much did she earn?',
    steps: [
      { q: 'How much does Weng earn per minute?', a: 'Weng earns 12/60 = $<<12/60=0.2>>0.2 per minute.' },
      { q: 'How much did Weng earn?', a: 'Working 50 minutes, she earned 0.2 x 50 = $<<0.2*50=10>>10.' },
    ],
    answer: '10',
  },
];

const SVAMP: Exemplar[] = [
  {
    question: 'Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack, how much do you have to pay to buy each pack?',
    steps: [{ q: 'How much do you have to pay to buy each pack?', a: '76 - 25 = <<76-25=51>>51.' }],
    answer: '51',
  },
  {
    question: 'Paco had 26 salty cookies and 17 sweet cookies. He ate 14 sweet cookies and 9 salty cookies. How many salty cookies did Paco have left?',
    steps: [{ q: 'How many salty cookies did Paco have left?', a: '26 - 9 = <<26-9=17>>17.' }],
    answer: '17',
  },
];

const STRATEGYQA: Exemplar[] = [
  {
    question: 'Are more people today related to Genghis Khan than Julius Caesar?',
    steps: [
      { q: 'How many kids did Julius Caesar have?', a: 'Julius Caesar had three children.' },
      { q: 'How many kids did Genghis Khan have?', a: 'Genghis Khan had sixteen children.' },
      { q: 'Is #2 greater than #1?', a: 'Sixteen is greater than three, so yes.' },
    ],
    answer: 'yes',
  },
  {
    question: 'Would the top of Mount Fuji stick out of the Sea of Japan?',
    steps: [
      { q: 'How tall is Mount Fuji?', a: 'Mount Fuji is 3,776 metres tall.' },
      { q: 'What is the maximum depth of the Sea of Japan?', a: 'The maximum depth of the Sea of Japan is 3,742 metres.' },
      { q: 'Is #1 greater than #2?', a: '3,776 is greater than 3,742, so yes.' },
    ],
    answer: 'yes',
  },
];

const SYNTHETIC: Exemplar[] = [
  {
    question: 'Tom has 12 apples. Tom eats 4 apples. Then the number of apples Tom has becomes 3 times as large. How many apples does Tom have now?',
    steps: [
      { q: 'How many apples does Tom have after eating 4?', a: 'Tom has 12 - 4 = <<12-4=8>>8 apples.' },
      { q: 'How many apples does Tom have after the number becomes 3 times as large?', a: 'Tom has 8 * 3 = <<8*3=24>>24 apples.' },
    ],
    answer: '24',
  },
];

const EXEMPLARS: Record<DatasetName, Exemplar[]> = { gsm8k: GSM8K, svamp: SVAMP, strategyqa: STRATEGYQA, synthetic: SYNTHETIC, custom: GSM8K };

export const PROMPT_VERSION = 'v1';

export function promptVersion(dataset: DatasetName, mode: 'socratic' | 'cot'): string {
  return `${mode}-${dataset}-${PROMPT_VERSION}`;
}

const SOCRATIC_SYSTEM =
  'You solve problems by asking and answering simple sub-questions, one at a time, until the last sub-question answers the problem. ' +
  'Write each sub-question on a line starting with "Q<k>:" and its answer on the next line starting with "A<k>:". ' +
  'Show arithmetic as a <<expression=result>> note where it helps. End with a line "Final answer: <answer>".';

const COT_SYSTEM = 'Solve the problem step by step, one short sentence per line. End with a line "#### <answer>".';

function problemText(question: string, context: string | undefined): string {
  return context ? `Facts: ${context}\nQuestion: ${question}` : `Question: ${question}`;
}

function socraticAnswer(e: Exemplar): string {
  return [...e.steps.flatMap((s, i) => [`Q${i + 1}: ${s.q}`, `A${i + 1}: ${s.a}`]), `Final answer: ${e.answer}`].join('\n');
}

function cotAnswer(e: Exemplar): string {
  return [...e.steps.map((s) => s.a), `#### ${e.answer}`].join('\n');
}

/** The chat messages for one problem: system, few-shot pairs, then the problem. */
export function buildMessages(problem: Problem, mode: 'socratic' | 'cot'): ChatMessage[] {
  const shots = EXEMPLARS[problem.dataset];
  const yesNo = problem.dataset === 'strategyqa' ? ' The final answer is yes or no.' : '';
  return [
    { role: 'system', content: (mode === 'socratic' ? SOCRATIC_SYSTEM : COT_SYSTEM) + yesNo },
    ...shots.flatMap((e): ChatMessage[] => [
      { role: 'user', content: problemText(e.question, e.context) },
      { role: 'assistant', content: mode === 'socratic' ? socraticAnswer(e) : cotAnswer(e) },
    ]),
    { role: 'user', content: problemText(problem.question, problem.context) },
  ];
}
