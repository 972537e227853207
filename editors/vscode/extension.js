// The VS Code side of dnnc: the grammar and language configuration are declared in package.json;
// this starts the dnnc language server (`dnnc lsp`, configurable with dnnc.server.command) over
// stdio with vscode-languageclient, for diagnostics as you type, hover and completion.
"use strict";
const { window, workspace } = require("vscode");

let client;

async function activate(context) {
  const cfg = workspace.getConfiguration("dnnc");
  if (!cfg.get("server.enabled", true)) return;
  const [command, ...args] = cfg.get("server.command", ["dnnc", "lsp"]);
  if (!command) {
    window.showWarningMessage("dnnc: dnnc.server.command is empty; the language server is not started.");
    return;
  }
  let LanguageClient;
  try {
    ({ LanguageClient } = require("vscode-languageclient/node"));
  } catch {
    window.showWarningMessage("dnnc: run `npm install` in editors/vscode to enable the language server (highlighting works without it).");
    return;
  }
  const serverOptions = { command, args, options: { shell: process.platform === "win32" } };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "dnn" },
      { scheme: "untitled", language: "dnn" },
    ],
  };
  client = new LanguageClient("dnnc", "dnnc language server", serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => client && client.stop() });
  try {
    await client.start();
  } catch (e) {
    window.showErrorMessage(`dnnc: could not start \`${[command, ...args].join(" ")}\`: ${e && e.message ? e.message : e}`);
  }
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
