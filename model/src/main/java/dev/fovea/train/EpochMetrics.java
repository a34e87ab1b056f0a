package dev.fovea.train;

import java.util.Locale;

/** One epoch's numbers: training loss and accuracy (running, over the epoch), test loss and accuracy after it. */
public record EpochMetrics(int epoch, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
                           double imagesPerSecond, double seconds, double lr) {
    public static final String CSV_HEADER = "epoch,train_loss,train_accuracy,test_loss,test_accuracy,images_per_s,seconds,lr";

    public String csv() {
        return String.format(Locale.ROOT, "%d,%.6f,%.6f,%.6f,%.6f,%.1f,%.3f,%.6g", epoch, trainLoss, trainAccuracy, testLoss, testAccuracy,
                imagesPerSecond, seconds, lr);
    }

    /** With the test pass's loss and metric. */
    public EpochMetrics withTest(double loss, double accuracy) {
        return new EpochMetrics(epoch, trainLoss, trainAccuracy, loss, accuracy, imagesPerSecond, seconds, lr);
    }

    public static EpochMetrics parseCsv(String line) {
        String[] f = line.split(",");
        if (f.length != 8) throw new IllegalArgumentException("metrics line needs 8 fields: " + line);
        return new EpochMetrics(Integer.parseInt(f[0]), Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                Double.parseDouble(f[4]), Double.parseDouble(f[5]), Double.parseDouble(f[6]), Double.parseDouble(f[7]));
    }
}
