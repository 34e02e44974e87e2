// How the page names a hidden neuron, everywhere it names one (inspector, diagram, neuron line):
// both numbers count from 1, as people count ("L1·n1" is the first neuron of the first layer).
// The server's indices stay as docs/protocol.md says (layer 1-based, neuron 0-based): these
// functions take them as they come and only change the words.

/** Short label, e.g. "L2·n5" for the server's {layer: 2, neuron: 4}. */
export function neuronLabel(layer, neuron) {
  return `L${layer}·n${neuron + 1}`;
}

/** In a sentence, e.g. "layer 2, neuron 5" (capitalised: "Layer 2, neuron 5"). */
export function neuronWords(layer, neuron, { capital = false } = {}) {
  return `${capital ? "Layer" : "layer"} ${layer}, neuron ${neuron + 1}`;
}
