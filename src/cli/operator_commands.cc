// `coffer operator unseal|seal-status|seal`: a server whose root key is split into unseal shares
// (docs/operations.md, "Unseal"). A share is read from the terminal without echo, or from stdin;
// never from the command line.
#include <fmt/format.h>

#include <cstdio>
#include <memory>

#include "cli/client_command.h"

namespace coffer::cli {
namespace {

using client::CofferClient;

void PrintSealStatus(const ClientContext& ctx, const client::SealStatus& s) {
  if (ctx.json_output) {
    PrintJson(s.json);
    return;
  }
  fmt::print("Sealed:    {}\nThreshold: {}\nShares:    {}\nProgress:  {}/{}\n",
             s.sealed ? "true" : "false", s.threshold, s.shares, s.progress, s.threshold);
  std::fflush(stdout);
}

}  // namespace

void AddOperatorCommands(CLI::App* op, ClientContext& ctx) {
  ctx.Leaf(op, "seal-status", "Whether the server is sealed, and how many shares it has",
           "coffer operator seal-status", [&ctx] {
             return ctx.WithClient([&](CofferClient& c) -> Status {
               ASSIGN_OR_RETURN(client::SealStatus s, c.GetSealStatus());
               PrintSealStatus(ctx, s);
               return OkStatus();
             });
           });
  auto reset = std::make_shared<bool>(false);
  CLI::App* unseal = ctx.Leaf(
      op, "unseal",
      "Give the server one unseal share (read without echo from the terminal, or from stdin)",
      "coffer operator unseal      # then type or paste the share", [&ctx, reset] {
        return ctx.WithClient([&](CofferClient& c) -> Status {
          if (*reset) {
            ASSIGN_OR_RETURN(client::SealStatus s, c.ResetUnseal());
            PrintSealStatus(ctx, s);
            return OkStatus();
          }
          ASSIGN_OR_RETURN(SecretBuffer share, ReadSecretInput("", "Unseal share: "));
          size_t n = share.size();
          while (n > 0 && (share.view()[n - 1] == '\n' || share.view()[n - 1] == '\r' ||
                           share.view()[n - 1] == ' ')) {
            --n;
          }
          share.Truncate(n);
          ASSIGN_OR_RETURN(client::SealStatus s, c.Unseal(share));
          PrintSealStatus(ctx, s);
          return OkStatus();
        });
      });
  unseal->add_flag("--reset", *reset, "Forget the shares given so far instead of giving one");
  ctx.Leaf(op, "seal",
           "Seal the server: it drops its keys and serves nothing until unsealed (admin)",
           "coffer operator seal", [&ctx] {
             return ctx.WithClient([&](CofferClient& c) -> Status {
               ASSIGN_OR_RETURN(client::SealStatus s, c.Seal());
               PrintSealStatus(ctx, s);
               return OkStatus();
             });
           });
}

}  // namespace coffer::cli
