# ttr_reference.R - computes indicators with R's TTR package, the reference definitions of
# docs/indicators.md, for tests/e2e/test_indicators_ttr.py.
#   Rscript ttr_reference.R BARS.csv SPECS OUT.tsv
# BARS.csv: date,open,high,low,close,volume. SPECS: comma-separated names as the agent takes
# them, every parameter given ("sma:20,macd:12:26:9,obv"). OUT.tsv: one column per output,
# named "<name>.<output>", one row per bar, values as %.17g, NA for no value.
suppressPackageStartupMessages(library(TTR))
args <- commandArgs(trailingOnly = TRUE)
bars <- read.csv(args[1])
H <- bars$high; L <- bars$low; C <- bars$close; V <- as.numeric(bars$volume)
HLC <- cbind(H, L, C); HL <- cbind(H, L)

col <- function(m, name) as.numeric(m[, name])

ref <- function(name, p) {
  switch(name,
    sma = list(value = SMA(C, p[1])),
    ema = list(value = EMA(C, p[1])),
    wma = list(value = WMA(C, p[1])),
    dema = list(value = DEMA(C, p[1])),
    tema = {
      # TTR has no TEMA: the triple EMA composed from TTR::EMA as TTR::DEMA composes its two
      e1 <- EMA(C, p[1]); e2 <- EMA(e1, p[1]); e3 <- EMA(e2, p[1])
      list(value = 3 * e1 - 3 * e2 + e3)
    },
    bbands = {
      b <- BBands(C, p[1], sd = p[2])
      list(middle = col(b, "mavg"), upper = col(b, "up"), lower = col(b, "dn"))
    },
    keltner = {
      k <- keltnerChannels(HLC, p[1], atr = p[2])
      list(middle = col(k, "mavg"), upper = col(k, "up"), lower = col(k, "dn"))
    },
    donchian = {
      d <- DonchianChannel(HL, p[1])
      list(middle = col(d, "mid"), upper = col(d, "high"), lower = col(d, "low"))
    },
    psar = list(value = as.numeric(SAR(HL, accel = c(p[1], p[2])))),
    # daily bars: each bar is its own VWAP session (no TTR function: TTR::VWAP is a rolling
    # n-bar volume-weighted mean, a different indicator)
    vwap = list(value = ifelse(V > 0, (H + L + C) / 3, NA)),
    rsi = list(value = RSI(C, p[1])),
    macd = {
      m <- MACD(C, p[1], p[2], p[3], percent = FALSE)
      list(macd = col(m, "macd"), signal = col(m, "signal"),
           histogram = col(m, "macd") - col(m, "signal"))
    },
    stoch = {
      s <- stoch(HLC, nFastK = p[1], nFastD = p[2], nSlowD = p[3])
      list(k = 100 * col(s, "fastD"), d = 100 * col(s, "slowD"))
    },
    willr = list(value = -100 * as.numeric(WPR(HLC, p[1]))),
    cci = list(value = as.numeric(CCI(HLC, p[1]))),
    roc = list(value = ROC(C, p[1], type = "discrete")),
    mom = list(value = momentum(C, p[1])),
    adx = {
      a <- ADX(HLC, p[1])
      r <- list(col(a, "ADX"), col(a, "DIp"), col(a, "DIn"))
      names(r) <- c("adx", "+di", "-di")
      r
    },
    aroon = {
      a <- aroon(HL, p[1])
      list(up = col(a, "aroonUp"), down = col(a, "aroonDn"), oscillator = col(a, "oscillator"))
    },
    atr = list(value = col(ATR(HLC, p[1]), "atr")),
    stddev = list(value = runSD(C, p[1])),
    obv = list(value = as.numeric(OBV(C, V))),
    mfi = list(value = as.numeric(MFI(HLC, V, p[1]))),
    stop(paste("no reference for", name)))
}

out <- list()
for (spec in strsplit(args[2], ",")[[1]]) {
  parts <- strsplit(spec, ":")[[1]]
  r <- ref(parts[1], as.numeric(parts[-1]))
  for (o in names(r)) out[[paste0(spec, ".", o)]] <- sprintf("%.17g", as.numeric(r[[o]]))
}
write.table(as.data.frame(out, check.names = FALSE), args[3], sep = "\t", quote = FALSE,
            row.names = FALSE)
