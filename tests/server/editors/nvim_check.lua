-- Neovim 0.7+: attach `clip-lint server` to the current buffer, print its diagnostics and code actions.
local client_id = vim.lsp.start_client({ name = "clip_lint", cmd = { "clip-lint", "server" }, root_dir = vim.fn.getcwd() })
vim.lsp.buf_attach_client(0, client_id)
local ok = vim.wait(30000, function() return #vim.diagnostic.get(0) > 0 end, 50)
local out = io.stdout
if not ok then out:write("NO DIAGNOSTICS\n") end
for _, d in ipairs(vim.diagnostic.get(0)) do
  out:write(string.format("DIAGNOSTIC %d:%d %s [%s] %s\n", d.lnum + 1, d.col, d.source or "", d.code or "", d.message))
  -- Neovim 0.7 keeps only part of the server's diagnostic in user_data.lsp: put the rest back
  local lsp_diagnostic = vim.tbl_extend("force", (d.user_data and d.user_data.lsp) or {}, {
    range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
    message = d.message, source = d.source, code = d.code,
  })
  local params = {
    textDocument = { uri = vim.uri_from_bufnr(0) },
    range = { start = { line = d.lnum, character = d.col }, ["end"] = { line = d.end_lnum, character = d.end_col } },
    context = { diagnostics = { lsp_diagnostic } },
  }
  local answers = vim.lsp.buf_request_sync(0, "textDocument/codeAction", params, 20000) or {}
  for _, answer in pairs(answers) do
    for _, action in ipairs(answer.result or {}) do out:write("ACTION " .. action.kind .. ": " .. action.title .. "\n") end
  end
end
vim.lsp.stop_client(client_id)
vim.wait(2000, function() return vim.lsp.get_client_by_id(client_id) == nil end, 50)
vim.cmd("qa!")
