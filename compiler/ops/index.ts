// The op registry: every op of the language and every IR node kind, each defined once in its op
// module. The passes ask the registry (LAYERS for lowering and checking, NODES for planning and
// code generation, TAILS for the elementwise ops fused into a producer) instead of switching on
// op names. The tables are typed against the IR's node union: an IR node kind without an entry,
// or an entry without a PyTorch or ONNX mapping (or an explicit `unsupported(...)`), does not compile.
//
// Adding an op: docs/architecture.md, "Adding an op".
import { ACTIVATION_LAYERS, ACTIVATION_TAILS, ACTIVATIONS, type ActivationName, type ActivationNode, type ActivationTail } from "./activations";
import { conv2d, conv2dNode, type Conv2dNode } from "./conv";
import { conv1d, conv1dNode, type Conv1dNode } from "./conv1d";
import { embedding, embeddingNode, type EmbeddingNode } from "./embedding";
import { dense, denseNode, type DenseNode } from "./dense";
import { dropout, dropoutTail, spatial_dropout, spatialDropoutTail, type DropoutNode, type DropoutTail } from "./dropout";
import {
  bn,
  bnNode,
  groupnorm,
  groupNormNode,
  instancenorm,
  iternorm,
  iterNormNode,
  layernorm,
  layerNormNode,
  type BnNode,
  type GroupNormNode,
  type IterNormNode,
  type LayerNormNode,
} from "./norm";
import {
  avgpool2d,
  avgpool2dNode,
  global_avgpool,
  global_maxpool,
  globalAvgPoolNode,
  globalMaxPoolNode,
  maxpool2d,
  maxpool2dNode,
  type AvgPool2dNode,
  type GlobalAvgPoolNode,
  type GlobalMaxPoolNode,
  type MaxPool2dNode,
} from "./pool";
import { avgpool1d, avgpool1dNode, maxpool1d, maxpool1dNode, type AvgPool1dNode, type MaxPool1dNode } from "./pool1d";
import { addNode, flatten, flattenNode, identityNode, repeat, residual, type AddNode, type FlattenNode, type IdentityNode } from "./structure";
import { last, lastNode, seqMaskTail, type LastNode, type SeqMaskTail } from "./sequence";
import { gru, lstm, rnnNode, type GruNode, type LstmNode } from "./rnn";
import { attention, attentionNode, type AttentionNode } from "./attention";
import { transformer } from "./transformer";
import { pos_embedding, posEmbeddingNode, type PosEmbeddingNode } from "./positional";
import { lazyValidator } from "../schema";
import type { LayerOp, NodeOp, TailOp } from "./op";

/** Every IR node: producers (with a fused tail), views, and elementwise ops before fusion. */
export type IRNode =
  | DenseNode
  | Conv2dNode
  | MaxPool2dNode
  | AvgPool2dNode
  | GlobalAvgPoolNode
  | GlobalMaxPoolNode
  | EmbeddingNode
  | Conv1dNode
  | MaxPool1dNode
  | AvgPool1dNode
  | LastNode
  | LstmNode
  | GruNode
  | AttentionNode
  | PosEmbeddingNode
  | FlattenNode
  | BnNode
  | IterNormNode
  | LayerNormNode
  | GroupNormNode
  | IdentityNode
  | AddNode
  | ActivationNode
  | DropoutNode;

/** An elementwise op in a producer's tail. */
export type TailNode = ActivationTail | DropoutTail | SeqMaskTail;

/** IR node kinds that run as producers (elementwise ops only exist unfused, before fuseElementwise). */
export type ProducerNode = Exclude<IRNode, ActivationNode | DropoutNode>;
type Producers = { [K in ProducerNode["op"]]: NodeOp<Extract<ProducerNode, { op: K }>> };

/** The layers of the language, in the order the docs and the language server list them. */
export const OPS: Record<string, LayerOp> = {
  dense,
  conv2d,
  maxpool2d,
  avgpool2d,
  global_avgpool,
  global_maxpool,
  embedding,
  conv1d,
  maxpool1d,
  avgpool1d,
  last,
  lstm,
  gru,
  attention,
  transformer,
  pos_embedding,
  flatten,
  bn,
  iternorm,
  layernorm,
  groupnorm,
  instancenorm,
  ...ACTIVATION_LAYERS,
  dropout,
  spatial_dropout,
  repeat,
  residual,
};

export const NODES: Producers = {
  dense: denseNode,
  conv2d: conv2dNode,
  maxpool2d: maxpool2dNode,
  avgpool2d: avgpool2dNode,
  global_avgpool: globalAvgPoolNode,
  global_maxpool: globalMaxPoolNode,
  embedding: embeddingNode,
  conv1d: conv1dNode,
  maxpool1d: maxpool1dNode,
  avgpool1d: avgpool1dNode,
  last: lastNode,
  lstm: rnnNode,
  gru: rnnNode,
  attention: attentionNode,
  pos_embedding: posEmbeddingNode,
  flatten: flattenNode,
  bn: bnNode,
  iternorm: iterNormNode,
  layernorm: layerNormNode,
  groupnorm: groupNormNode,
  instancenorm: groupNormNode,
  identity: identityNode,
  add: addNode,
};

export const TAILS: { [K in TailNode["op"]]: TailOp } = {
  ...ACTIVATION_TAILS,
  dropout: dropoutTail,
  spatial_dropout: spatialDropoutTail,
  seqmask: seqMaskTail,
};

/** The op of a producer node (one cast, here: the table is typed per kind). */
export function nodeOp<N extends ProducerNode>(n: N): NodeOp<N> {
  const op = (NODES as unknown as Record<string, NodeOp<ProducerNode>>)[n.op];
  if (!op) throw new Error(`no op module for IR node ${n.op} (${n.id})`);
  return op as unknown as NodeOp<N>;
}

/** The op module of an IR node kind, or undefined for a kind no module defines (IR from elsewhere). */
export function findNodeOp(op: string): NodeOp<ProducerNode> | undefined {
  return Object.hasOwn(NODES, op) ? (NODES as unknown as Record<string, NodeOp<ProducerNode>>)[op] : undefined;
}

/** The first node whose output at a position reads later positions of its input (NodeOp.causal), if any. */
export function firstAcausalNode(nodes: IRNode[]): IRNode | undefined {
  return nodes.find((n) => !isElementwise(n) && !(nodeOp(n).causal?.(n) ?? false));
}

/** The tail op of an elementwise kind, or undefined. */
export function findTailOp(op: string): TailOp | undefined {
  return Object.hasOwn(TAILS, op) ? (TAILS as Record<string, TailOp>)[op] : undefined;
}

/** Whether an IR node is an (unfused) elementwise op. */
export function isElementwise(n: IRNode): n is ActivationNode | DropoutNode {
  return Object.hasOwn(TAILS, n.op); // (seqmask is a tail op only: no node of that kind exists)
}

/** A view of its input (flatten): no code, no buffers of its own; elementwise ops are not. */
export function isView(n: IRNode): boolean {
  return !isElementwise(n) && nodeOp(n).view === true;
}

/** The producer view of a node that is not an unfused elementwise op (fused IR has none). */
export function asProducer(n: IRNode): ProducerNode {
  if (isElementwise(n)) throw new Error(`IR node ${n.id} (${n.op}) is an unfused elementwise op`);
  return n;
}

/** Argument validators, each compiled once (lazily). */
export const OP_VALIDATORS = Object.fromEntries(Object.entries(OPS).map(([k, o]) => [k, lazyValidator(o.schema)]));

export { ACTIVATIONS, type ActivationName };
export { INITS } from "./args";
export type { LayerOp, NodeOp, TailOp } from "./op";
