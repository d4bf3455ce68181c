/**
 * Word-problem scenarios for the synthetic task. Each scenario fixes the
 * objects (with units where natural) and the verbs for gaining and losing them,
 * so every problem reads like one small story. Language is kept regular on
 * purpose: tiny students trained from scratch must be able to learn it.
 */
export interface Scenario {
  id: string;
  /** Plural noun phrase, may carry a unit: `liters of juice`. */
  objects: string;
  /** [verb, gerund] for gaining: `picks` / `picking`. */
  gain: readonly [string, string];
  /** [verb, gerund] for losing: `eats` / `eating`. */
  lose: readonly [string, string];
  /** [plural, singular] container used when sharing equally. */
  group: readonly [string, string];
}

export const SCENARIOS: readonly Scenario[] = [
  { id: 'apples', objects: 'apples', gain: ['picks', 'picking'], lose: ['eats', 'eating'], group: ['baskets', 'basket'] },
  { id: 'marbles', objects: 'marbles', gain: ['wins', 'winning'], lose: ['loses', 'losing'], group: ['bags', 'bag'] },
  { id: 'stickers', objects: 'stickers', gain: ['buys', 'buying'], lose: ['gives away', 'giving away'], group: ['pages', 'page'] },
  { id: 'cookies', objects: 'cookies', gain: ['bakes', 'baking'], lose: ['eats', 'eating'], group: ['plates', 'plate'] },
  { id: 'pencils', objects: 'pencils', gain: ['buys', 'buying'], lose: ['lends', 'lending'], group: ['boxes', 'box'] },
  { id: 'cards', objects: 'cards', gain: ['collects', 'collecting'], lose: ['trades away', 'trading away'], group: ['piles', 'pile'] },
  { id: 'coins', objects: 'coins', gain: ['finds', 'finding'], lose: ['spends', 'spending'], group: ['jars', 'jar'] },
  { id: 'books', objects: 'books', gain: ['borrows', 'borrowing'], lose: ['returns', 'returning'], group: ['shelves', 'shelf'] },
  { id: 'shells', objects: 'shells', gain: ['finds', 'finding'], lose: ['drops', 'dropping'], group: ['buckets', 'bucket'] },
  { id: 'balloons', objects: 'balloons', gain: ['blows up', 'blowing up'], lose: ['pops', 'popping'], group: ['bunches', 'bunch'] },
  { id: 'stamps', objects: 'stamps', gain: ['gets', 'getting'], lose: ['uses', 'using'], group: ['albums', 'album'] },
  { id: 'eggs', objects: 'eggs', gain: ['collects', 'collecting'], lose: ['cooks', 'cooking'], group: ['cartons', 'carton'] },
  { id: 'candies', objects: 'candies', gain: ['gets', 'getting'], lose: ['eats', 'eating'], group: ['bowls', 'bowl'] },
  { id: 'toy-cars', objects: 'toy cars', gain: ['buys', 'buying'], lose: ['sells', 'selling'], group: ['boxes', 'box'] },
  { id: 'flowers', objects: 'flowers', gain: ['plants', 'planting'], lose: ['picks', 'picking'], group: ['vases', 'vase'] },
  { id: 'dollars', objects: 'dollars', gain: ['earns', 'earning'], lose: ['spends', 'spending'], group: ['envelopes', 'envelope'] },
  { id: 'juice', objects: 'liters of juice', gain: ['makes', 'making'], lose: ['drinks', 'drinking'], group: ['bottles', 'bottle'] },
  { id: 'rope', objects: 'meters of rope', gain: ['buys', 'buying'], lose: ['cuts off', 'cutting off'], group: ['pieces', 'piece'] },
  { id: 'flour', objects: 'kilograms of flour', gain: ['buys', 'buying'], lose: ['uses', 'using'], group: ['sacks', 'sack'] },
  { id: 'pages', objects: 'pages', gain: ['writes', 'writing'], lose: ['tears out', 'tearing out'], group: ['folders', 'folder'] },
  { id: 'points', objects: 'points', gain: ['scores', 'scoring'], lose: ['loses', 'losing'], group: ['rounds', 'round'] },
  { id: 'minutes', objects: 'minutes of music', gain: ['records', 'recording'], lose: ['deletes', 'deleting'], group: ['songs', 'song'] },
  { id: 'beads', objects: 'beads', gain: ['buys', 'buying'], lose: ['loses', 'losing'], group: ['strings', 'string'] },
  { id: 'fish', objects: 'fish', gain: ['catches', 'catching'], lose: ['releases', 'releasing'], group: ['tanks', 'tank'] },
];

export const NAMES: readonly string[] = [
  'Tom', 'Ana', 'Ben', 'Mia', 'Sam', 'Lily', 'Max', 'Emma', 'Leo', 'Zoe', 'Noah', 'Ella',
  'Omar', 'Sara', 'Ivan', 'Nina', 'Raj', 'Mei', 'Luis', 'Kate', 'Ali', 'Rosa', 'Finn', 'Ada',
];
