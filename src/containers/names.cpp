// names.cpp - generated container names, "adjective_noun" as docker makes them (berth's own
// word lists: machine-learning flavoured).
#include <iterator>
#include <string>

#include "containers/engine.h"

namespace berth::containers {
namespace {

const char* const kAdjectives[] = {
    "agile",   "bold",    "brave",   "bright",  "calm",    "clever",  "cool",    "crisp",
    "curious", "daring",  "eager",   "elated",  "epic",    "fervent", "focused", "gentle",
    "happy",   "humble",  "jolly",   "keen",    "kind",    "lucid",   "merry",   "modest",
    "nimble",  "noble",   "patient", "plucky",  "quick",   "quiet",   "rapid",   "serene",
    "sharp",   "sleek",   "steady",  "stoic",   "sunny",   "swift",   "tender",  "tidy",
    "upbeat",  "vibrant", "vivid",   "warm",    "wise",    "witty",   "zealous", "zen"};

const char* const kNouns[] = {
    "adam",      "attention", "autograd", "backprop", "batchnorm", "bayes",    "bert",
    "boltzmann", "cuda",      "dropout",  "embedding", "encoder",  "epoch",    "gan",
    "gradient",  "hebb",      "hopfield", "kernel",   "lamport",   "lenet",    "logit",
    "lstm",      "markov",    "momentum", "neuron",   "perceptron", "pooling", "relu",
    "resnet",    "sigmoid",   "softmax",  "tensor",   "token",     "transformer", "turing",
    "unet",      "vae",       "vapnik",   "weights",  "xavier"};

}  // namespace

std::string generate_name(unsigned seed) {
  unsigned a = seed % std::size(kAdjectives);
  unsigned n = (seed / std::size(kAdjectives)) % std::size(kNouns);
  return std::string(kAdjectives[a]) + "_" + kNouns[n];
}

}  // namespace berth::containers
