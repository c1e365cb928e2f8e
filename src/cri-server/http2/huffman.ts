// HPACK's Huffman code (RFC 7541 Appendix B). The code is canonical (within one
// length, codes follow symbol order), so the code lengths alone define it.
import { Http2HeaderError } from './errors';

/** Code length in bits of symbols 0..255, then EOS (256). RFC 7541 Appendix B. */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;
const MAX_LENGTH = 30;

/** Canonical decoding tables: per length, the first code and where its symbols start. */
interface DecodeTables {
  firstCode: number[];
  count: number[];
  offset: number[];
  symbols: number[];
}

function buildTables(): DecodeTables {
  const count = new Array<number>(MAX_LENGTH + 1).fill(0);
  for (const len of CODE_LENGTHS) count[len]++;
  const symbols = CODE_LENGTHS.map((len, symbol) => ({ len, symbol }))
    .sort((a, b) => a.len - b.len || a.symbol - b.symbol)
    .map((s) => s.symbol);
  const firstCode = new Array<number>(MAX_LENGTH + 1).fill(0);
  const offset = new Array<number>(MAX_LENGTH + 1).fill(0);
  let code = 0;
  let index = 0;
  for (let len = 1; len <= MAX_LENGTH; len++) {
    firstCode[len] = code;
    offset[len] = index;
    code = (code + count[len]) * 2;
    index += count[len];
  }
  return { firstCode, count, offset, symbols };
}

let tables: DecodeTables | undefined;

/** Decodes a Huffman-coded HPACK string into its octets. */
export function huffmanDecode(input: Buffer): Buffer {
  tables ??= buildTables();
  const { firstCode, count, offset, symbols } = tables;
  const out: number[] = [];
  let code = 0;
  let len = 0;
  for (const byte of input) {
    for (let bit = 7; bit >= 0; bit--) {
      code = code * 2 + ((byte >> bit) & 1);
      len++;
      const index = code - firstCode[len];
      if (index >= 0 && index < count[len]) {
        const symbol = symbols[offset[len] + index];
        if (symbol === EOS) throw new Http2HeaderError('huffman string contains EOS');
        out.push(symbol);
        code = 0;
        len = 0;
      } else if (len === MAX_LENGTH) {
        throw new Http2HeaderError('invalid huffman code');
      }
    }
  }
  // Padding: fewer than 8 bits, all ones (the start of EOS).
  if (len > 7 || code !== 2 ** len - 1) throw new Http2HeaderError('invalid huffman padding');
  return Buffer.from(out);
}
